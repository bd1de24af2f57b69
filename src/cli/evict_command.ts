import { EscaleError } from "../errors/errors.ts";
import { loadOneSection } from "./load_one_section.ts";
import type { Logger } from "../log/logger.ts";
import { withLease } from "../protocol/lease.ts";
import { openRepository } from "./open_repository.ts";
import { Repository } from "../engine/repository.ts";

/**
 * `escale ctl evict CLIENT`: removes a client that will not come back (its record, and the
 * commits and data it published) so that pushers stop keeping data for it. Runs under the
 * relay's maintenance lease. A client that does come back later simply joins again.
 */
export async function evictCommand(
  opts: { config?: string; repository?: string },
  client: string,
  log: Logger,
  print: (line: string) => void,
): Promise<void> {
  const { cfg, section } = await loadOneSection(opts);
  const { repo } = await openRepository(cfg, section, {}, log);
  try {
    if (!(repo instanceof Repository)) {
      throw new EscaleError(
        "usage",
        `${section.name}: its relay is an Escale 0.7 relay, which has no client records to evict`,
      );
    }
    const store = repo.store;
    const records = [];
    for (const { cid } of await store.listClientIds()) {
      const r = await store.readClient(cid);
      if (r) records.push(r);
    }
    const victims = records.filter((r) => r.name === client || r.id === client);
    if (victims.length === 0) {
      throw new EscaleError(
        "usage",
        `no client named ${JSON.stringify(client)} on ${store.name}; known: ${
          records.map((r) => `${r.name} (${r.id})`).join(", ") || "none"
        }`,
      );
    }
    if (victims.length > 1) {
      throw new EscaleError(
        "usage",
        `several clients are named ${JSON.stringify(client)}: ${
          victims.map((r) => r.id).join(", ")
        }; give the id instead`,
      );
    }
    const v = victims[0];
    if (v.id === repo.me) throw new EscaleError("usage", "a client cannot evict itself");
    await withLease(
      store,
      "maintenance",
      `${section.clientName} (${repo.me}) evicting ${v.id}`,
      async () => {
        const commits = (await store.listCommits()).filter((c) => c.cid === v.id);
        const data = (await store.listData()).filter((d) => d.cid === v.id);
        for (const d of data) await store.delete(d.key);
        for (const c of commits) await store.delete(c.key);
        await store.delete(`clients/${v.id}`);
        print(
          `evicted ${v.name} (${v.id}) from ${store.name}: removed its record, ${commits.length} commits and ${data.length} data objects`,
        );
      },
    );
  } finally {
    await repo.close();
  }
}
