// Every size limit a message meets on its way from one replica to another, named once.
//
// The limits nest: a place fits in a request, a request in a batch, a full batch in every slot of
// a view-change, and 2f + 1 of the largest view-changes of the largest room in one NEW-VIEW, which
// fits in one protocol message. `limits.test.ts` builds those worst cases and checks that they
// fit, so a change to one number that breaks the nesting fails a test rather than a room. The
// network layer (src/net) splits a protocol message into data-channel frames below
// MAX_WIRE_BYTES and refuses to reassemble anything larger.

/** Largest room: the link sizes are 4, 7 and 10 members. Arrays of signatures are at most this long. */
export const MAX_MEMBERS = 10;

/** A place is at most this many code points once trimmed (what people see). */
export const MAX_PLACE_LENGTH = 60;
/**
 * ... and at most this many UTF-16 code units as sent, spaces included: a place is a short string,
 * not a megabyte of whitespace that trims to one word.
 */
export const MAX_PLACE_UNITS = 2 * MAX_PLACE_LENGTH;

/** A member's name is at most this many code points once trimmed: it has to fit in a list of ten. */
export const MAX_NAME_LENGTH = 32;
/** ... and at most this many UTF-16 code units as sent, for the same reason as MAX_PLACE_UNITS. */
export const MAX_NAME_UNITS = 2 * MAX_NAME_LENGTH;

/**
 * Largest encoded request message a replica accepts (checked on arrival, before the signature).
 * The schema bounds every field, so an honest request is always below it; see limits.test.ts.
 */
export const MAX_REQUEST_BYTES = 1024;

/** Most requests in one batch. */
export const MAX_BATCH = 64;
/**
 * Most bytes of one encoded batch. The primary fills batches up to it, and a backup refuses a
 * pre-prepare whose batch is larger, so a prepared or committed slot never holds more.
 */
export const MAX_BATCH_BYTES = 4 * 1024;

/** Largest log window L a replica may run with; view-changes carry at most L prepared slots. */
export const MAX_LOG_WINDOW = 16;

/** Largest protocol message: the network layer neither sends nor reassembles anything larger. */
export const MAX_WIRE_BYTES = 1024 * 1024;

/** State transfer answers in chunks no larger than this. */
export const STATE_CHUNK_BYTES = 8 * 1024;

/**
 * While decoding, before any schema: no array or map may hold more entries than this (the largest
 * legal array is a batch), and nothing may nest deeper than MAX_CBOR_DEPTH. Without these bounds
 * a 1 MiB message of a million empty maps costs seconds and gigabytes to reject.
 */
export const MAX_CBOR_ITEMS = Math.max(MAX_BATCH, MAX_LOG_WINDOW, MAX_MEMBERS);
/** See MAX_CBOR_ITEMS; the deepest legal message (evidence holding a NEW-VIEW) nests about 18 levels. */
export const MAX_CBOR_DEPTH = 24;
/**
 * Most CBOR items (every number, string, list and map counts one) in one message. The legal
 * message with the most, a NEW-VIEW of the largest room full of the smallest requests, has about
 * 94,000; junk of one-byte items would otherwise cost ten times that to take apart.
 */
export const MAX_CBOR_TOKENS = 128 * 1024;
