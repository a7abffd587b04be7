// Medians of bench/cluster/run's rows (results.jsonl, written by the run script and by the
// drivers of bench/realtime and bench/chat), one RESULT line per bench, then a Markdown table.
//
//   node summary.mjs results.jsonl...
import { readRows, median, result } from "../realtime/lib.mjs";

const files = process.argv.slice(2);
const rows = (scenario) => readRows(files, scenario);
const sizes = [...new Set(rows("polls").concat(rows("fanout"), rows("chat"))
  .map((r) => Number(String(r.label).match(/^nodes=(\d+)/)?.[1])).filter(Boolean))].sort((a, b) => a - b);
const med = (rs, f) => {
  const xs = rs.map((r) => Number(r[f])).filter(Number.isFinite);
  return xs.length ? median(xs) : NaN;
};
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const table = [];

// bench: one RESULT line with, per cluster size K, field_K = the median of `field` over the
// rows labelled "nodes=K<suffix>"; `ratio` = the CPU per operation of the largest size over
// the smallest's.
function bench(name, scenario, cpuField, fields, cpuDigits = 1) {
  const out = { bench: name };
  const bySize = sizes.map((k) => rows(scenario).filter((r) => r.label === `nodes=${k}`));
  sizes.forEach((k, i) => {
    out[`rounds_${k}`] = bySize[i].length;
    for (const [f, d] of Object.entries({ [cpuField]: cpuDigits, ...fields })) out[`${f}_${k}`] = fmt(med(bySize[i], f), d);
    const infra = rows(`${scenario === "fanout" ? "presence" : scenario}-infra`)
      .filter((r) => r.label === `nodes=${k}`);
    if (infra.length) out[`redis_cpu_us_per_publish_${k}`] = fmt(med(infra, "redis_cpu_us_per_publish"));
  });
  const [lo, hi] = [bySize[0], bySize[bySize.length - 1]];
  if (sizes.length > 1) out[`ratio_${sizes[sizes.length - 1]}_vs_${sizes[0]}`] = fmt(med(hi, cpuField) / med(lo, cpuField), 2);
  result(out);
  table.push([name, ...sizes.map((k) => out[`${cpuField}_${k}`]), out[`ratio_${sizes[sizes.length - 1]}_vs_${sizes[0]}`] ?? ""]);
}

bench("idle", "idle", "node_cpu_cores", { bus_published_per_s: 0 }, 3);
bench("polls", "polls", "node_cpu_us_per_req",
  { rps: 0, p50_ms: 2, p99_ms: 2, bus_published_per_req: 3, haproxy_cpu_us_per_req: 1, redis_cpu_us_per_req: 1 });
bench("presence", "fanout", "node_cpu_us_per_delivery",
  { deliveries_per_s: 0, lat_p50_ms: 2, lat_p99_ms: 2, lat_same_node_p99_ms: 2, lat_cross_node_p99_ms: 2,
    bus_published_per_delivery: 3, delivered_ratio: 4 });
bench("chat", "chat", "node_cpu_us_per_msg",
  { committed_per_s: 0, lat_p50_ms: 2, lat_p99_ms: 2, ack_p50_ms: 2, bus_published_per_msg: 2 });

// The hop: the same conversations with their members' sockets on the owner's node and on
// another node, in the same cluster and round.
const hop = rows("chat").filter((r) => /-hop-(same|cross)$/.test(r.label));
const sizesWithHop = [...new Set(hop.map((r) => r.label.replace(/-hop-.*/, "")))];
for (const s of sizesWithHop) {
  const same = hop.filter((r) => r.label === `${s}-hop-same`), cross = hop.filter((r) => r.label === `${s}-hop-cross`);
  const f = (rs, k) => med(rs, k);
  const out = { bench: "hop", cluster: s, rounds: Math.min(same.length, cross.length), conversations: f(same, "groups") };
  for (const k of ["node_cpu_us_per_msg", "lat_p50_ms", "lat_p99_ms", "ack_p50_ms", "bus_published_per_msg"]) {
    out[`${k}_same`] = fmt(f(same, k), 2);
    out[`${k}_cross`] = fmt(f(cross, k), 2);
  }
  // Per round, cross minus same (side by side), then the median.
  const diff = (k) => median(same.map((r, i) => Number(cross[i]?.[k]) - Number(r[k])).filter(Number.isFinite));
  out.extra_cpu_us_per_msg = fmt(diff("node_cpu_us_per_msg"), 1);
  out.extra_lat_p50_ms = fmt(diff("lat_p50_ms"), 2);
  out.extra_ack_p50_ms = fmt(diff("ack_p50_ms"), 2);
  result(out);
}

console.log(`\n| bench | ${sizes.map((k) => `node CPU / op, ${k} node${k > 1 ? "s" : ""} (µs)`).join(" | ")} | ratio |`);
console.log(`|---|${sizes.map(() => "---|").join("")}---|`);
for (const r of table) console.log(`| ${r.join(" | ")} |`);
