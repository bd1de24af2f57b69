import { DOMParser, type Element, onErrorStopParsing } from "@xmldom/xmldom";

/**
 * The few XML documents S3 answers with, read by local element name: AWS puts them in the
 * 2006-03-01 namespace, several compatible servers put them in none, and no two names collide.
 */
export class S3Xml {
  readonly root: Element;

  private constructor(root: Element) {
    this.root = root;
  }

  /** Parses a document; throws a plain Error when it is not well-formed XML. */
  static parse(text: string): S3Xml {
    const doc = new DOMParser({ onError: onErrorStopParsing }).parseFromString(text, "text/xml");
    if (!doc.documentElement) throw new Error("the answer is not an XML document");
    return new S3Xml(doc.documentElement);
  }

  get name(): string {
    return this.root.localName ?? "";
  }

  /** Text of the first child element called `name` of `el` (default: the root), "" when absent. */
  text(name: string, el: Element = this.root): string {
    return S3Xml.children(el, name)[0]?.textContent?.trim() ?? "";
  }

  all(name: string, el: Element = this.root): Element[] {
    return S3Xml.children(el, name);
  }

  static children(el: Element, localName: string): Element[] {
    const out: Element[] = [];
    for (let n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 1 && (n as Element).localName === localName) out.push(n as Element);
    }
    return out;
  }
}
