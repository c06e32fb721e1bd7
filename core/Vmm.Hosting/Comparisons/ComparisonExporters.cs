using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Vmm.Hosting.Exporters;

namespace Vmm.Hosting;

/// <summary>Writes a whole comparison as one document: <c>vmm compare --export NAME</c> writes <c>compare.EXTENSION</c>.</summary>
public interface IComparisonExporter
{
    string Name { get; }

    string FileExtension { get; }

    void Export(ComparisonReport report, TextWriter output);
}

/// <summary>
/// The comparison exporters: md (the tables, legends and conclusions), csv (one row per workload and stack, every metric's
/// mean and standard deviation) and json (the report). csv and json leave out wall times, so that the same comparison
/// and seed give byte-identical files.
/// </summary>
public static class ComparisonExporters
{
    public static IReadOnlyList<IComparisonExporter> All { get; } = [new Markdown(), new Csv(), new Json()];

    public static IComparisonExporter? Find(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    public static string Names => string.Join(", ", All.Select(e => e.Name));

    private sealed class Markdown : IComparisonExporter
    {
        public string Name => "md";

        public string FileExtension => "md";

        public void Export(ComparisonReport report, TextWriter output)
        {
            var text = new StringBuilder("# vmm compare\n\n");
            text.Append(Escape(ComparisonTables.Summary(report))).Append('\n');
            foreach (var (table, byKind) in ComparisonTables.From(report).Zip(ComparisonTables.TimeByKind(report)))
            {
                text.Append(CultureInfo.InvariantCulture, $"\n## {Escape(table.Workload)}\n\n{Escape(table.Description)}\n\n");
                Table(text, table);
                text.Append(CultureInfo.InvariantCulture, $"\nModelled time by event kind (µs):\n\n");
                Table(text, byKind);
            }
            if (report.Claims.Count > 0)
            {
                text.Append("\n## Claims\n\n| claim | source | workload | verdict | evidence |\n| --- | --- | --- | --- | --- |\n");
                foreach (var claim in report.Claims)
                    text.Append(CultureInfo.InvariantCulture, $"| {Escape(claim.Claim)} | {Escape(claim.Source)} | {claim.Workload} | **{claim.StatusText}** | {Escape(claim.Evidence)} |\n");
            }
            if (report.Conclusions.Count > 0)
            {
                text.Append("\n## Conclusions\n\n");
                foreach (var line in report.Conclusions) text.Append("- ").Append(Escape(line)).Append('\n');
            }
            output.Write(text.ToString());
        }

        private static void Table(StringBuilder text, ComparisonTable table)
        {
            text.Append("| ").AppendJoin(" | ", table.Table.Columns.Select(c => Escape(c.Header))).Append(" |\n");
            text.Append("| ").AppendJoin(" | ", table.Table.Columns.Select(c => c.Alignment == ColumnAlignment.Right ? "--:" : "---")).Append(" |\n");
            foreach (var row in table.Table.Rows)
                text.Append("| ").AppendJoin(" | ", row.Cells.Select(c => c.Style == ConsoleStyle.Emphasis ? $"**{Escape(c.Text)}**" : Escape(c.Text))).Append(" |\n");
            text.Append('\n');
            foreach (var line in table.Legend) text.Append("- ").Append(Escape(line)).Append('\n');
        }

        private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
    }

    private sealed class Csv : IComparisonExporter
    {
        public string Name => "csv";

        public string FileExtension => "csv";

        public void Export(ComparisonReport report, TextWriter output)
        {
            var text = new StringBuilder("workload,stack,baseline,steps");
            foreach (var metric in report.Metrics) text.Append(',').Append(Quote(metric.Name)).Append(',').Append(Quote(metric.Name + " sd"));
            text.Append(",ratio\n");
            foreach (var workload in report.Workloads)
            {
                foreach (var row in workload.Rows)
                {
                    text.Append(Quote(workload.Workload)).Append(',').Append(Quote(row.Stack)).Append(',').Append(row.IsBaseline ? "true" : "false")
                        .Append(',').Append(row.Steps.ToString(CultureInfo.InvariantCulture));
                    foreach (var metric in report.Metrics)
                    {
                        var value = row.Metrics[metric.Name];
                        text.Append(',').Append(Number(value.Mean)).Append(',').Append(Number(value.StdDev));
                    }
                    text.Append(',').Append(row.Ratio is { } ratio ? Number(ratio) : "").Append('\n');
                }
            }
            output.Write(text.ToString());
        }

        private static string Number(double value) => double.IsNaN(value) ? ComparisonTables.NotAvailable : value.ToString("R", CultureInfo.InvariantCulture);

        private static string Quote(string text) =>
            text.IndexOfAny([',', '"', '\n']) < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private sealed class Json : IComparisonExporter
    {
        private static readonly JsonSerializerOptions Options = new()
        {
            WriteIndented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };

        public string Name => "json";

        public string FileExtension => "json";

        public void Export(ComparisonReport report, TextWriter output)
        {
            var document = new Dictionary<string, object?>
            {
                ["baseline"] = report.Baseline,
                ["seed"] = report.Seed,
                ["repeat"] = report.Repeat,
            };
            if (report.Kernel is { } kernel) document["kernel"] = kernel;
            if (ComparisonTables.IsContentsFree(report)) document["contentsFree"] = true;
            document["runs"] = report.Runs;
            document["metrics"] = report.Metrics.Select(m => new { name = m.Name, group = m.Group, description = m.Description });
            document["workloads"] = report.Workloads.Select(w => new
            {
                workload = w.Workload,
                description = w.Description,
                stacks = w.Rows.Select(row => new
                {
                    stack = row.Stack,
                    baseline = row.IsBaseline,
                    steps = row.Steps,
                    ratio = row.Ratio,
                    // null: not available (a contents-free run's data-dependent metrics); JSON has no NaN.
                    metrics = report.Metrics.ToDictionary(m => m.Name, m => new { mean = Available(row.Metrics[m.Name].Mean), sd = Available(row.Metrics[m.Name].StdDev) }),
                    modelledNsByKind = row.ModelledNanosecondsByKind,
                }),
            });
            document["claims"] = report.Claims.Select(c => new { id = c.Id, claim = c.Claim, source = c.Source, workload = c.Workload, verdict = c.StatusText, evidence = c.Evidence });
            document["conclusions"] = report.Conclusions;
            output.Write(JsonSerializer.Serialize(document, Options));
            output.Write('\n');
        }

        private static double? Available(double value) => double.IsNaN(value) ? null : value;
    }
}
