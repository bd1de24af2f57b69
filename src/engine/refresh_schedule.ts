/**
 * Escale's adaptive refresh: after activity the pause starts at refresh/2 and rises along a
 * logistic curve to `refresh`: t(n) = t0 + (tmax - t0) / (1 + e^(10 - 2n)), rounded to a
 * multiple of 10^(floor(log10 t0) - 1). Any round that transferred something restarts at n = 0.
 */
export class RefreshSchedule {
  #n = 0;
  constructor(readonly refreshSec: number) {}

  next(active: boolean): number {
    if (active) this.#n = 0;
    const t0 = this.refreshSec / 2;
    const tmax = this.refreshSec;
    const t = t0 + (tmax - t0) / (1 + Math.exp(10 - 2 * this.#n));
    this.#n++;
    const unit = 10 ** (Math.floor(Math.log10(t0)) - 1);
    return Math.round(t / unit) * unit;
  }
}
