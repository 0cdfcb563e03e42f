/**
 * Just enough XML for SOAP answers: elements (namespace prefixes dropped, local names kept),
 * attributes, text, CDATA, the five named entities and numeric references; comments, processing
 * instructions and DOCTYPEs skipped. Cameras answer with any prefixes they like (`tt:`, `trt:`,
 * `ns2:`), so everything here matches by local name. Pure and synchronous; malformed input gives
 * an XmlError, never a partial tree.
 */

export interface XmlElement {
  /** Local name (`Uri` for `tt:Uri`). */
  readonly name: string;
  /** Attributes by local name (`xmlns` declarations left out). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text (CDATA included), entities decoded, not trimmed. */
  readonly text: string;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

/** Answers larger than this are not SOAP replies a camera sends for these requests. */
export const MAX_XML_CHARS = 4 * 1024 * 1024;
const MAX_DEPTH = 64;

const localName = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return NAMED[ref] ?? all;
  });
}

/** Text for an XML text node or attribute value. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
}

interface Building {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ATTR = /([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)')/g;

/** The root element of `xml`. Throws XmlError on malformed input. */
export function parseXml(xml: string): XmlElement {
  if (xml.length > MAX_XML_CHARS) throw new XmlError(`XML of ${xml.length} characters is larger than ${MAX_XML_CHARS}`);
  const stack: Building[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  const close = (b: Building): void => {
    const el: XmlElement = { name: b.name, attrs: b.attrs, children: b.children, text: b.text };
    const parent = stack.at(-1);
    if (parent) parent.children.push(el);
    else if (root) throw new XmlError('more than one root element');
    else root = el;
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? xml.length : lt;
    if (textEnd > i) {
      const text = xml.slice(i, textEnd);
      const top = stack.at(-1);
      if (top) top.text += decodeEntities(text);
      else if (text.trim() !== '') throw new XmlError('text outside the root element');
    }
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end < 0) throw new XmlError('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      if (end < 0) throw new XmlError('unterminated CDATA');
      const top = stack.at(-1);
      if (!top) throw new XmlError('CDATA outside the root element');
      top.text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt + 2);
      if (end < 0) throw new XmlError('unterminated processing instruction');
      i = end + 2;
    } else if (xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt + 2);
      if (end < 0) throw new XmlError('unterminated declaration');
      i = end + 1;
    } else if (xml[lt + 1] === '/') {
      const end = xml.indexOf('>', lt);
      if (end < 0) throw new XmlError('unterminated end tag');
      const name = localName(xml.slice(lt + 2, end).trim());
      const top = stack.pop();
      if (!top || top.name !== name) throw new XmlError(`end tag </${name}> does not match <${top?.name ?? '(none)'}>`);
      close(top);
      i = end + 1;
    } else {
      // A start tag: find its end outside quoted attribute values.
      let j = lt + 1;
      let quote = '';
      for (; j < xml.length; j++) {
        const c = xml[j];
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= xml.length) throw new XmlError('unterminated start tag');
      const selfClosing = xml[j - 1] === '/';
      const body = xml.slice(lt + 1, selfClosing ? j - 1 : j);
      const nameMatch = /^[^\s/>]+/.exec(body);
      if (!nameMatch) throw new XmlError('a tag without a name');
      const attrs: Record<string, string> = {};
      for (const m of body.slice(nameMatch[0].length).matchAll(ATTR)) {
        const q = m[1];
        if (q === 'xmlns' || q.startsWith('xmlns:')) continue;
        attrs[localName(q)] = decodeEntities(m[3] ?? m[4] ?? '');
      }
      const b: Building = { name: localName(nameMatch[0]), attrs, children: [], text: '' };
      if (selfClosing) close(b);
      else {
        if (stack.length >= MAX_DEPTH) throw new XmlError(`nested deeper than ${MAX_DEPTH} elements`);
        stack.push(b);
      }
      i = j + 1;
    }
  }
  if (stack.length > 0) throw new XmlError(`unclosed element <${stack.at(-1)?.name}>`);
  if (!root) throw new XmlError('no element');
  return root;
}

/** Every element under `el` (depth first, `el` itself excluded) with this local name. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

/** The first element under `el` with this local name, following a path of names when several are given. */
export function find(el: XmlElement, ...path: string[]): XmlElement | undefined {
  let cur: XmlElement | undefined = el;
  for (const name of path) {
    if (!cur) return undefined;
    cur = findAll(cur, name)[0];
  }
  return cur;
}

/** The trimmed text of the first element on the path, or undefined. */
export function textAt(el: XmlElement, ...path: string[]): string | undefined {
  const t = find(el, ...path)?.text.trim();
  return t === undefined || t === '' ? undefined : t;
}
