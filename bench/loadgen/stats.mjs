// Latency samples: a growable array of milliseconds, and its quantiles.

export class Samples {
  constructor(initial = 1 << 16) {
    this.values = new Float64Array(initial);
    this.count = 0;
    this.sorted = null;
  }

  add(ms) {
    if (this.count === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.count++] = ms;
    this.sorted = null;
  }

  /** The q-quantile (nearest rank), or NaN without samples. */
  quantile(q) {
    if (this.count === 0) return Number.NaN;
    if (this.sorted === null) this.sorted = this.values.slice(0, this.count).sort();
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil(q * this.count) - 1));
    return this.sorted[rank];
  }
}
