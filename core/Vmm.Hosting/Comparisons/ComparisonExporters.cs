using System.Globalization;
using System.Text;
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
            foreach (var table in ComparisonTables.From(report))
            {
                text.Append(CultureInfo.InvariantCulture, $"\n## {Escape(table.Workload)}\n\n{Escape(table.Description)}\n\n");
                text.Append("| ").AppendJoin(" | ", table.Table.Columns.Select(c => Escape(c.Header))).Append(" |\n");
                text.Append("| ").AppendJoin(" | ", table.Table.Columns.Select(c => c.Alignment == ColumnAlignment.Right ? "--:" : "---")).Append(" |\n");
                foreach (var row in table.Table.Rows)
                    text.Append("| ").AppendJoin(" | ", row.Cells.Select(c => c.Style == ConsoleStyle.Emphasis ? $"**{Escape(c.Text)}**" : Escape(c.Text))).Append(" |\n");
                text.Append('\n');
                foreach (var line in table.Legend) text.Append("- ").Append(Escape(line)).Append('\n');
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

        private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        private static string Quote(string text) =>
            text.IndexOfAny([',', '"', '\n']) < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private sealed class Json : IComparisonExporter
    {
        public string Name => "json";

        public string FileExtension => "json";

        public void Export(ComparisonReport report, TextWriter output)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                writer.WriteStartObject();
                writer.WriteString("baseline", report.Baseline);
                writer.WriteNumber("seed", report.Seed);
                writer.WriteNumber("repeat", report.Repeat);
                if (report.Kernel is { } kernel) writer.WriteString("kernel", kernel);
                writer.WriteNumber("runs", report.Runs);
                writer.WriteStartArray("metrics");
                foreach (var metric in report.Metrics)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", metric.Name);
                    writer.WriteString("group", metric.Group);
                    writer.WriteString("description", metric.Description);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteStartArray("workloads");
                foreach (var workload in report.Workloads)
                {
                    writer.WriteStartObject();
                    writer.WriteString("workload", workload.Workload);
                    writer.WriteString("description", workload.Description);
                    writer.WriteStartArray("stacks");
                    foreach (var row in workload.Rows)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("stack", row.Stack);
                        writer.WriteBoolean("baseline", row.IsBaseline);
                        writer.WriteNumber("steps", row.Steps);
                        if (row.Ratio is { } ratio) writer.WriteNumber("ratio", ratio);
                        else writer.WriteNull("ratio");
                        writer.WriteStartObject("metrics");
                        foreach (var metric in report.Metrics)
                        {
                            var value = row.Metrics[metric.Name];
                            writer.WriteStartObject(metric.Name);
                            writer.WriteNumber("mean", value.Mean);
                            writer.WriteNumber("sd", value.StdDev);
                            writer.WriteEndObject();
                        }
                        writer.WriteEndObject();
                        writer.WriteStartObject("modelledNsByKind");
                        foreach (var (kind, ns) in row.ModelledNanosecondsByKind) writer.WriteNumber(kind, ns);
                        writer.WriteEndObject();
                        writer.WriteEndObject();
                    }
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteStartArray("claims");
                foreach (var claim in report.Claims)
                {
                    writer.WriteStartObject();
                    writer.WriteString("id", claim.Id);
                    writer.WriteString("claim", claim.Claim);
                    writer.WriteString("source", claim.Source);
                    writer.WriteString("workload", claim.Workload);
                    writer.WriteString("verdict", claim.StatusText);
                    writer.WriteString("evidence", claim.Evidence);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteStartArray("conclusions");
                foreach (var line in report.Conclusions) writer.WriteStringValue(line);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            output.Write(Encoding.UTF8.GetString(buffer.ToArray()));
            output.Write('\n');
        }
    }
}
