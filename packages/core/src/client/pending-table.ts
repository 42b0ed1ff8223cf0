// PendingTable: requests awaiting their response, by id (client layer).
/**
 * Requests awaiting their response, by id: a power-of-two table indexed by `id & mask`, so a
 * lookup is an array read and a compare, not a hash. Ids are handed out in sequence and skip a
 * slot still taken by an older request (one that waits long), so a stuck request costs one
 * skipped id per lap, never a bigger table. The table doubles when half full.
 */
export class PendingTable<T> {
  /** Entries in the table. */
  size = 0;
  private values: (T | undefined)[];
  private ids: Uint32Array;
  private mask: number;
  private lastId = 0;

  /**
   * @param capacity - the first table's size, a power of two: small, since most clients have few
   * requests in flight and a client made per connection should cost little (it doubles as needed)
   */
  constructor(capacity = 8) {
    this.values = new Array<T | undefined>(capacity).fill(undefined);
    this.ids = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Adds `value` under a fresh id, unused by any entry, and returns the id. */
  add(value: T): number {
    if (this.size * 2 >= this.values.length) this.grow();
    let id = this.lastId;
    do id = (id + 1) >>> 0;
    while (this.values[id & this.mask] !== undefined);
    this.lastId = id;
    const slot = id & this.mask;
    this.values[slot] = value;
    this.ids[slot] = id;
    this.size++;
    return id;
  }

  /** Removes and returns the entry of `id`, or undefined when there is none (late, unknown). */
  take(id: number): T | undefined {
    const slot = id & this.mask;
    const value = this.values[slot];
    if (value === undefined || this.ids[slot] !== id) return undefined;
    this.values[slot] = undefined;
    this.size--;
    return value;
  }

  /** The ids in the table now. */
  keys(): number[] {
    const keys: number[] = [];
    for (let slot = 0; slot < this.values.length; slot++)
      if (this.values[slot] !== undefined) keys.push(this.ids[slot]!);
    return keys;
  }

  private grow(): void {
    const { values, ids } = this;
    const capacity = values.length * 2;
    this.values = new Array<T | undefined>(capacity).fill(undefined);
    this.ids = new Uint32Array(capacity);
    this.mask = capacity - 1;
    // Ids apart in the old table stay apart: their low bits already differed.
    for (let slot = 0; slot < values.length; slot++) {
      const value = values[slot];
      if (value === undefined) continue;
      const id = ids[slot]!;
      this.values[id & this.mask] = value;
      this.ids[id & this.mask] = id;
    }
  }
}
