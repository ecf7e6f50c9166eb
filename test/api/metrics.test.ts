/** The Prometheus text format writer: escaping, labels rendered once, and its hook between families. */
import { expect, test } from 'bun:test';
import { MetricsText, RenderedLabels } from '../../src/api/metrics.ts';

test('label values are escaped as the format requires; plain ones are written as they are', () => {
  const m = new MetricsText();
  m.family('l2lb_x', 'gauge', 'Help with a \\ and a\nnewline.', [[{ a: 'back\\slash', b: 'quo"te', c: 'new\nline', d: '192.0.2.10' }, 1]]);
  expect(m.toString()).toBe(
    '# HELP l2lb_x Help with a \\\\ and a\\nnewline.\n# TYPE l2lb_x gauge\n' +
      'l2lb_x{a="back\\\\slash",b="quo\\"te",c="new\\nline",d="192.0.2.10"} 1\n',
  );
});

test('labels rendered once read the same as labels given per sample; between runs after each family', () => {
  let between = 0;
  const labels = { vip: '2001:db8::10', interface: 'eth"0' };
  const once = new RenderedLabels(labels);
  const a = new MetricsText(() => between++);
  a.family('l2lb_a_total', 'counter', 'A.', [[once, 3]]).family('l2lb_b', 'gauge', 'B.', [[once, NaN], [{}, Infinity]]);
  const b = new MetricsText();
  b.family('l2lb_a_total', 'counter', 'A.', [[labels, 3]]).family('l2lb_b', 'gauge', 'B.', [[labels, NaN], [{}, Infinity]]);
  expect(a.toString()).toBe(b.toString());
  expect(a.toString()).toContain('l2lb_b{vip="2001:db8::10",interface="eth\\"0"} NaN\nl2lb_b +Inf\n');
  expect(between).toBe(2);
});
