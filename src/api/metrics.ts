/**
 * Prometheus text exposition format (version 0.0.4): just what l2lb's metrics need, with label values
 * escaped as the format requires.
 */

/** Labels of one sample. */
export type Labels = Record<string, string>;

/** Content type of the exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(',')}}`;
}

/** Collects metric families and renders them in the text format. */
export class MetricsText {
  private readonly lines: string[] = [];

  /** Adds a family; `name` already carries the `l2lb_` prefix and, for counters, the `_total` suffix. */
  family(name: string, type: 'counter' | 'gauge', help: string, samples: Iterable<[Labels, number]>): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
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
