import { describe, expect, it } from 'vitest';
import { newRoomUrl, roomLinkUrl, tabTitle, waitingLine } from './invite.ts';

describe('waitingLine', () => {
  it('says how many are here and how many are missing', () => {
    expect(waitingLine(2, 4)).toBe('2 of 4 here — waiting for 2 more');
    expect(waitingLine(1, 7)).toBe('1 of 7 here — waiting for 6 more');
  });

  it('says when nobody is missing, and never counts below zero', () => {
    expect(waitingLine(4, 4)).toBe('All 4 here');
    expect(waitingLine(5, 4)).toBe('All 4 here');
  });
});

describe('tabTitle', () => {
  it('puts the member’s name first', () => {
    expect(tabTitle('Rich')).toBe('Rich — Byzantine Lunch');
  });

  it('is the app’s name alone for a tab that is no member', () => {
    expect(tabTitle(null)).toBe('Byzantine Lunch');
  });
});

describe('room links', () => {
  it('leads back to the room, with its size when it is not the default', () => {
    expect(roomLinkUrl('http://h:1/', { room: 'lunch-1', size: 4, generated: false })).toBe('http://h:1/?room=lunch-1');
    expect(roomLinkUrl('http://h:1/', { room: 'lunch-1', size: 7, generated: true })).toBe('http://h:1/?room=lunch-1&n=7');
  });

  it('starts a new room of the same size', () => {
    expect(newRoomUrl('http://h:1/', 4)).toBe('http://h:1/');
    expect(newRoomUrl('http://h:1/', 10)).toBe('http://h:1/?n=10');
  });
});
