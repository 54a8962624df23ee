// simple-peer's bare import pulls Node's `global` into the browser bundle; its prebuilt
// browser bundle does not, so that is what src/net imports. Only the surface we use is typed.
declare module 'simple-peer/simplepeer.min.js' {
  export interface SignalData {
    type?: 'offer' | 'answer' | 'pranswer' | 'rollback' | 'transceiverRequest' | 'renegotiate' | 'candidate';
    sdp?: string;
    candidate?: unknown;
    [key: string]: unknown;
  }
  export interface Options {
    initiator?: boolean;
    trickle?: boolean;
    config?: RTCConfiguration;
    channelName?: string;
    channelConfig?: RTCDataChannelInit;
  }
  export default class SimplePeer {
    constructor(options?: Options);
    readonly connected: boolean;
    readonly destroyed: boolean;
    signal(data: SignalData): void;
    send(data: Uint8Array | string): void;
    destroy(error?: Error): void;
    on(event: 'signal', listener: (data: SignalData) => void): this;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'data', listener: (data: Uint8Array) => void): this;
    on(event: 'error', listener: (error: Error & { code?: string }) => void): this;
  }
}
