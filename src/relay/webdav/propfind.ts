import { DOMParser, type Element, onErrorStopParsing } from "@xmldom/xmldom";

/** What a PROPFIND answer says about one resource. */
export interface DavResource {
  /** percent-decoded segments of the absolute path (a decoded segment may contain "/") */
  segments: string[];
  collection: boolean;
  /** -1 when the server did not report a length */
  size: number;
  /** ms since the epoch, 0 when unknown */
  mtime: number;
}

const DAV = "DAV:";

/** The body we send: ask only for what a listing needs, not the server's every property. */
export const PROPFIND_BODY = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop>
<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>
</D:prop></D:propfind>`;

/**
 * Parses a 207 multistatus document. Element names are matched by namespace, never by prefix
 * (servers use `D:`, `d:`, `lp1:` or a default namespace alike), and only properties inside a
 * propstat whose status is 2xx count. Hrefs may be absolute URLs or absolute paths; they are
 * resolved against the request URL and percent-decoded segment by segment, so an encoded "/"
 * inside a name stays inside its segment, where the caller can recognise (and refuse) it.
 *
 * Throws a plain Error when the document is not XML or not a multistatus.
 */
export function parseMultistatus(xml: string, requestUrl: string): DavResource[] {
  const doc = new DOMParser({ onError: onErrorStopParsing }).parseFromString(xml, "text/xml");
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== DAV || root.localName !== "multistatus") {
    throw new Error("the answer is not a WebDAV multistatus document");
  }
  const out: DavResource[] = [];
  for (const response of children(root, "response")) {
    const href = text(children(response, "href")[0]);
    if (!href) continue;
    let pathname: string;
    let segments: string[];
    try {
      pathname = new URL(href, requestUrl).pathname;
      segments = pathname.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s));
    } catch {
      throw new Error(`the server listed an undecodable name ${JSON.stringify(href)}`);
    }
    const res: DavResource = { segments, collection: pathname.endsWith("/"), size: -1, mtime: 0 };
    for (const propstat of children(response, "propstat")) {
      const status = text(children(propstat, "status")[0]);
      if (status && !/^HTTP\/\S+\s+2\d\d/.test(status)) continue;
      for (const prop of children(propstat, "prop")) {
        const rt = children(prop, "resourcetype")[0];
        if (rt && children(rt, "collection").length) res.collection = true;
        const len = text(children(prop, "getcontentlength")[0]);
        if (len && /^\d+$/.test(len)) res.size = Number(len);
        const lm = text(children(prop, "getlastmodified")[0]);
        if (lm) {
          const t = Date.parse(lm);
          if (Number.isFinite(t)) res.mtime = t;
        }
      }
    }
    out.push(res);
  }
  return out;
}

function children(el: Element, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) {
      const e = n as Element;
      if (e.localName === localName && e.namespaceURI === DAV) out.push(e);
    }
  }
  return out;
}

function text(el: Element | undefined): string {
  return el?.textContent?.trim() ?? "";
}
