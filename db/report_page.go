package db

import (
	"fmt"
	"html/template"
)

// reportPage is the HTML report's page: everything inline, nothing
// fetched, no script. Tooltips are SVG <title>s; the charts' marks carry
// data-mark (and data-camera, data-key, data-count) for readers and tests.
var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"f": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camvisor incident report{{if .Camera}}: {{.Camera}}{{end}} — {{.Source}}</title>
<style>
:root { color-scheme: light; --text: #1b1f24; --muted: #5a6370; --line: #d5d9df; --bad: #b3261e; }
body { margin: 0 auto; max-width: 1380px; padding: 1rem 1.5rem 3rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--text); background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 0.3rem; }
h2 { font-size: 1.1rem; margin: 0 0 0.3rem; }
.meta { color: var(--muted); margin: 0 0 0.8rem; }
.meta strong { color: var(--text); }
nav { margin: 0 0 1rem; font-size: 0.92rem; }
nav a { margin-right: 0.9rem; }
section { margin: 0 0 1.6rem; padding-top: 0.6rem; border-top: 1px solid var(--line); }
.caption { color: var(--muted); margin: 0 0 0.4rem; font-size: 0.92rem; max-width: 75rem; }
.note { color: var(--bad); font-size: 0.9rem; margin: 0.2rem 0; }
svg.chart { display: block; width: 100%; height: auto; max-width: 1340px; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: var(--text); }
svg text.tick, svg text.muted { fill: var(--muted); }
svg text.small { font-size: 11px; }
svg text.bad { fill: var(--bad); font-weight: 600; }
svg text.name { font-weight: 600; }
svg rect.over { opacity: 0.35; }
.legend { list-style: none; margin: 0.3rem 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.2rem 1.1rem; font-size: 0.88rem; }
.legend svg { vertical-align: middle; margin-right: 0.3rem; }
.empty { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; font-size: 0.86rem; margin: 0.3rem 0 1rem; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; font-variant-numeric: tabular-nums; }
th { color: var(--muted); background: #f4f5f7; }
h3 { font-size: 0.98rem; margin: 0.8rem 0 0.2rem; }
@media print { nav { display: none; } section { break-inside: avoid; } }
</style>
</head>
<body>
<h1>camvisor incident report{{if .Camera}}: camera {{.Camera}}{{end}}</h1>
<p class="meta">Record <strong>{{.Source}}</strong>{{if .Empty}}: nothing recorded{{if .Since}} since {{.Since}}{{end}}.{{else}}, from <strong>{{.From}}</strong> to <strong>{{.To}}</strong> ({{.Span}}){{if .Since}}, rows since {{.Since}}{{end}}.{{end}} Times are UTC. Made {{.Generated}}; hover any mark for its details.</p>
<nav>{{range .Charts}}<a href="#{{.ID}}">{{.Title}}</a> {{end}}<a href="#tables">Tables</a></nav>
{{range .Charts}}
<section id="{{.ID}}">
<h2>{{.Title}}</h2>
<p class="caption">{{.Caption}}</p>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .Empty}}<p class="empty">{{.Empty}}</p>{{else}}
<svg class="chart" data-chart="{{.ID}}" data-marks="{{.Marks}}" viewBox="0 0 {{f .Width}} {{f .Height}}" width="{{f .Width}}" height="{{f .Height}}" role="img" aria-label="{{.Title}}" xmlns="http://www.w3.org/2000/svg">
{{range .Shapes}}{{if eq .K "rect"}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Fill}}"{{if .Class}} class="{{.Class}}"{{end}}{{if .Mark}} data-mark="{{.Mark}}" data-camera="{{.Camera}}" data-key="{{.Key}}" data-count="{{.Count}}"{{end}}>{{if .Title}}<title>{{.Title}}</title>{{end}}</rect>
{{else if eq .K "path"}}<path d="{{.D}}" fill="none" stroke="{{.Stroke}}" stroke-width="{{f .SW}}"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}{{if .Mark}} data-mark="{{.Mark}}" data-camera="{{.Camera}}"{{end}}>{{if .Title}}<title>{{.Title}}</title>{{end}}</path>
{{else if eq .K "line"}}<line x1="{{f .X}}" y1="{{f .Y}}" x2="{{f .X2}}" y2="{{f .Y2}}" stroke="{{.Stroke}}" stroke-width="{{f .SW}}"/>
{{else if eq .K "text"}}<text x="{{f .X}}" y="{{f .Y}}"{{if .Anchor}} text-anchor="{{.Anchor}}"{{end}}{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</text>
{{end}}{{end}}</svg>
<ul class="legend">{{range .Legend}}<li><svg width="22" height="12" viewBox="0 0 22 12" aria-hidden="true">{{if .Line}}<line x1="1" y1="6" x2="21" y2="6" stroke="{{.Colour}}" stroke-width="2"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/>{{else}}<rect x="1" y="1" width="20" height="10" fill="{{.Colour}}"/>{{end}}</svg>{{.Label}}</li>{{end}}</ul>
{{end}}
</section>
{{end}}
<section id="tables">
<h2>Tables</h2>
<p class="caption">The text report's tables (<code>camvisor db report</code>); the README shows the same questions in plain SQL.</p>
{{range .Tables}}
<h3>{{.Title}}</h3>
{{if .Rows}}<table><thead><tr>{{range .Cols}}<th scope="col">{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>{{else}}<p class="empty">(none)</p>{{end}}
{{end}}
</section>
</body>
</html>
`))
