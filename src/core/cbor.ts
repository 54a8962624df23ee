// Decoding CBOR that came from someone else, at a cost linear in its length with a small constant.
//
// cborg builds whatever the bytes describe before a schema can look at it, and a schema checks
// every item of an array before it checks the array's length. So the bounds on array length and
// nesting are enforced here, token by token, while decoding: an array header that announces more
// entries than any legal message holds fails at once, before a single entry is built.
import { decode, Tokenizer, Type, type DecodeOptions, type Token } from 'cborg';
import { MAX_CBOR_DEPTH, MAX_CBOR_ITEMS, MAX_CBOR_TOKENS } from './limits.ts';

/** Bounds a decode must keep to; the defaults fit every protocol message. */
export interface CborBounds {
  /** Most entries in one array or map (a map entry is a key and its value). */
  items: number;
  /** Deepest nesting of arrays and maps. */
  depth: number;
  /** Most items of any kind in the whole input. */
  tokens: number;
}

const DEFAULT_BOUNDS: CborBounds = { items: MAX_CBOR_ITEMS, depth: MAX_CBOR_DEPTH, tokens: MAX_CBOR_TOKENS };

/**
 * Strict, canonical-minded decoding options for untrusted input: no indefinite lengths, no
 * undefined, no duplicate map keys, plain objects rather than Maps.
 */
const STRICT: DecodeOptions = { strict: true, rejectDuplicateMapKeys: true, useMaps: false, allowIndefinite: false, allowUndefined: false };

/** Thrown when well-formed CBOR exceeds the bounds, to tell it apart from malformed bytes. */
export class CborBoundsError extends Error {}

/** A tokenizer that keeps the count of open containers and refuses what exceeds the bounds. */
class BoundedTokenizer extends Tokenizer {
  /** Entries still to come in each open array or map, innermost last. */
  private readonly open: number[] = [];
  private tokens = 0;

  constructor(data: Uint8Array, private readonly bounds: CborBounds) {
    super(data, STRICT);
  }

  override next(): Token {
    if (++this.tokens > this.bounds.tokens) throw new CborBoundsError(`more than ${this.bounds.tokens} items`);
    const token = super.next();
    // This token fills one entry of the innermost open container; close the ones it completes
    // (after the container itself, when it is empty).
    const last = this.open.length - 1;
    if (last >= 0) this.open[last]!--;
    const isArray = Type.equals(token.type, Type.array);
    if (isArray || Type.equals(token.type, Type.map)) {
      const entries = token.value as number;
      if (entries > this.bounds.items) throw new CborBoundsError(`a ${isArray ? 'list' : 'map'} of ${entries} entries, more than ${this.bounds.items}`);
      if (this.open.length >= this.bounds.depth) throw new CborBoundsError(`nested deeper than ${this.bounds.depth}`);
      this.open.push(isArray ? entries : 2 * entries);
    }
    while (this.open.length > 0 && this.open[this.open.length - 1] === 0) this.open.pop();
    return token;
  }
}

/** Decodes untrusted CBOR within the bounds; throws CborBoundsError beyond them, and an Error on malformed bytes. */
export function decodeBounded(bytes: Uint8Array, bounds: CborBounds = DEFAULT_BOUNDS): unknown {
  // A Buffer (Node) would make every decoded byte string a Buffer; the schema wants Uint8Array.
  const data = bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decode(data, { ...STRICT, tokenizer: new BoundedTokenizer(data, bounds) });
}
