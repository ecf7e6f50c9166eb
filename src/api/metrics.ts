/**
 * Prometheus text exposition format (version 0.0.4): just what l2lb's metrics need, with label values
 * escaped as the format requires.
 */

/** Labels of one sample. */
export type Labels = Record<string, string>;

/** Content type of the exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Addresses and interface names never need escaping: testing first spares three replaces per value. */
const NEEDS_ESCAPE = /[\\\n"]/;
const escape = (v: string) => (NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v);

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(',')}}`;
}

/**
 * Labels rendered once for samples of several families (a VIP's labels appear in eleven of them: at 10,000
 * VIPs rendering them per sample was most of a scrape's cost).
 */
export class RenderedLabels {
  readonly text: string;
  constructor(labels: Labels) {
    this.text = labelText(labels);
  }
}

/**
 * Collects metric families and renders them in the text format. `between` is called after each family: a
 * scrape at 10,000 VIPs is ~100,000 lines and holds the main thread long enough for the wire membership to
 * take it for stalled; its caller renews the membership's grant there.
 */
export class MetricsText {
  private readonly lines: string[] = [];

  constructor(private readonly between: () => void = () => {}) {}

  /** Adds a family; `name` already carries the `l2lb_` prefix and, for counters, the `_total` suffix. */
  family(name: string, type: 'counter' | 'gauge', help: string, samples: Iterable<[Labels | RenderedLabels, number]>): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labels instanceof RenderedLabels ? labels.text : labelText(labels)} ${formatValue(value)}`);
    this.between();
    return this;
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
