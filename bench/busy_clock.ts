/**
 * How long something was on the way through the WAN proxy: the length of the union of the
 * intervals during which at least one piece of data, FIN, or connection handshake of any of the
 * proxy's connections was travelling. Requests sent together overlap and count once; requests
 * sent one after another each add their round trip; time spent by the programs or the server
 * between them does not count. Divided by the RTT, it is the number of round trips a command
 * waited for, plus the payload's time on the wire.
 */
export class BusyClock {
  #inFlight = 0;
  #since = 0;
  #total = 0;

  begin(): void {
    if (this.#inFlight++ === 0) this.#since = performance.now();
  }

  end(): void {
    if (--this.#inFlight === 0) this.#total += performance.now() - this.#since;
  }

  /** Milliseconds busy so far, the interval under way included. */
  ms(): number {
    return this.#total + (this.#inFlight > 0 ? performance.now() - this.#since : 0);
  }
}
