using System.Globalization;
using Vmm.Core.Comparisons;
using Vmm.Hosting.Exporters;

namespace Vmm.Hosting;

/// <summary>One workload's table as plain data, in BenchmarkDotNet's style: a row per stack, the baseline marked, a Ratio column, a legend.</summary>
public sealed record ComparisonTable(string Workload, string Description, ConsoleTable Table, IReadOnlyList<string> Legend);

/// <summary>
/// The tables of a comparison as plain data, which <c>vmm compare</c> draws with Spectre.Console and the Markdown export
/// writes. A metric that is 0 under every stack of a workload is left out of its table (the legend says which); cells
/// are means, with "±sd" when the comparison repeats.
/// </summary>
public static class ComparisonTables
{
    public const string RatioColumn = "Ratio";
    public const string BaselineMark = "baseline";

    /// <summary>The cell of a metric a run could not count (NaN: a contents-free run's data-dependent metrics).</summary>
    public const string NotAvailable = "n/a";

    public static IReadOnlyList<ComparisonTable> From(ComparisonReport report, bool wallTime = true)
    {
        ArgumentNullException.ThrowIfNull(report);
        var tables = new List<ComparisonTable>();
        foreach (var workload in report.Workloads)
        {
            var shown = report.Metrics.Where(m => workload.Rows.Any(r => r.Metrics[m.Name].Mean != 0)).ToList();
            var columns = new List<ConsoleColumn> { new("Stack"), new("", ColumnAlignment.Left) };
            columns.AddRange(shown.Select(m => new ConsoleColumn(m.Name, ColumnAlignment.Right)));
            columns.Add(new ConsoleColumn(RatioColumn, ColumnAlignment.Right));
            if (wallTime) columns.Add(new ConsoleColumn("wall ms", ColumnAlignment.Right));
            var rows = new List<ConsoleRow>();
            foreach (var row in workload.Rows)
            {
                var cells = new List<ConsoleSpan>
                {
                    new(row.Stack, row.IsBaseline ? ConsoleStyle.Emphasis : ConsoleStyle.Plain),
                    new(row.IsBaseline ? BaselineMark : "", ConsoleStyle.Muted),
                };
                foreach (var metric in shown)
                {
                    var value = row.Metrics[metric.Name];
                    var bad = metric.Group == "safety" && value.Mean > 0;
                    cells.Add(new ConsoleSpan(Cell(value, report.Repeat > 1), bad ? ConsoleStyle.Failure : ConsoleStyle.Plain));
                }
                cells.Add(new ConsoleSpan(row.Ratio is { } ratio ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : "?"));
                if (wallTime) cells.Add(new ConsoleSpan(row.WallMilliseconds.ToString("0.0", CultureInfo.InvariantCulture), ConsoleStyle.Muted));
                rows.Add(new ConsoleRow(cells, !cells.Any(c => c.Style == ConsoleStyle.Failure)));
            }
            var legend = shown.Select(m => $"{m.Name}: {m.Description} ({m.Group})").ToList();
            legend.Add($"{RatioColumn}: modelled time against the baseline row ({report.Baseline})");
            if (wallTime) legend.Add("wall ms: the simulator's own time for the run" + (report.Repeat > 1 ? ", mean over the repeats" : ""));
            var hidden = report.Metrics.Except(shown).Select(m => m.Name).ToList();
            if (hidden.Count > 0) legend.Add($"0 under every stack, not shown: {string.Join(", ", hidden)}");
            var unavailable = shown.Where(m => workload.Rows.Any(r => double.IsNaN(r.Metrics[m.Name].Mean))).Select(m => m.Name).ToList();
            if (unavailable.Count > 0)
                legend.Add($"{NotAvailable}: not available, the run was contents-free (memory.contents=none keeps no bytes, and {string.Join(", ", unavailable)} are counted from the bytes; docs/contents-free.md)");
            if (report.Repeat > 1) legend.Add($"cells: mean ± standard deviation over {report.Repeat} seeds");
            tables.Add(new ComparisonTable(workload.Workload, workload.Description, new ConsoleTable(columns, rows), legend));
        }
        return tables;
    }

    /// <summary>
    /// Per workload, where its modelled time went: a row per stack, a column per cost kind that took time under some
    /// stack (the <paramref name="kinds"/> most expensive, then the rest summed as "other"), in microseconds (means
    /// over the repeats), and the total.
    /// </summary>
    public static IReadOnlyList<ComparisonTable> TimeByKind(ComparisonReport report, int kinds = 6)
    {
        ArgumentNullException.ThrowIfNull(report);
        var tables = new List<ComparisonTable>();
        foreach (var workload in report.Workloads)
        {
            var ordered = workload.Rows.SelectMany(r => r.ModelledNanosecondsByKind).Where(k => k.Value > 0)
                .GroupBy(k => k.Key, StringComparer.Ordinal)
                .Select(g => (Kind: g.Key, Max: g.Max(k => k.Value)))
                .OrderByDescending(k => k.Max).ThenBy(k => k.Kind, StringComparer.Ordinal)
                .Select(k => k.Kind).ToList();
            // One more kind than the limit gets its own column rather than an "other" of one.
            var shown = ordered.Count <= kinds + 1 ? ordered : ordered.Take(kinds).ToList();
            var other = ordered.Skip(shown.Count).ToList();
            var columns = new List<ConsoleColumn> { new("Stack"), new("", ColumnAlignment.Left) };
            columns.AddRange(shown.Select(k => new ConsoleColumn(k, ColumnAlignment.Right)));
            if (other.Count > 0) columns.Add(new ConsoleColumn("other", ColumnAlignment.Right));
            columns.Add(new ConsoleColumn(RunMetrics.ModelledMicroseconds, ColumnAlignment.Right));
            var rows = workload.Rows.Select(row =>
            {
                var cells = new List<ConsoleSpan>
                {
                    new(row.Stack, row.IsBaseline ? ConsoleStyle.Emphasis : ConsoleStyle.Plain),
                    new(row.IsBaseline ? BaselineMark : "", ConsoleStyle.Muted),
                };
                cells.AddRange(shown.Select(k => new ConsoleSpan(Format(row.ModelledNanosecondsByKind.GetValueOrDefault(k) / 1000.0))));
                if (other.Count > 0) cells.Add(new ConsoleSpan(Format(other.Sum(k => row.ModelledNanosecondsByKind.GetValueOrDefault(k)) / 1000.0)));
                cells.Add(new ConsoleSpan(Format(row.ModelledNanosecondsByKind.Values.Sum() / 1000.0)));
                return new ConsoleRow(cells, true);
            }).ToList();
            var legend = new List<string> { "cells: modelled µs of each counted event kind (count × its cost.* figure, docs/costs.md), mean over the repeats; the most expensive kinds first" };
            if (other.Count > 0) legend.Add($"other: {string.Join(", ", other)}");
            tables.Add(new ComparisonTable(workload.Workload, "where the modelled time went", new ConsoleTable(columns, rows), legend));
        }
        return tables;
    }

    /// <summary>"12", "0.5", or "12 ±0.5".</summary>
    public static string Cell(MetricValue value, bool spread)
    {
        if (double.IsNaN(value.Mean)) return NotAvailable;
        var mean = Format(value.Mean);
        return spread && value.StdDev > 0 ? $"{mean} ±{Format(value.StdDev)}" : mean;
    }

    public static string Format(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15 ? value.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>Whether some run of the report kept no bytes: a metric that needs them is NaN.</summary>
    public static bool IsContentsFree(ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.Workloads.Any(w => w.Rows.Any(r => r.Metrics.Any(m => double.IsNaN(m.Value.Mean))));
    }

    /// <summary>The header line: how many runs, the seed, the baseline.</summary>
    public static string Summary(ComparisonReport report, bool wallTime = true) =>
        $"{report.Workloads.Count} workloads × {(report.Workloads.Count == 0 ? 0 : report.Workloads[0].Rows.Count)} stacks × {report.Repeat} seed{(report.Repeat == 1 ? "" : "s")} = {report.Runs} runs, seed {report.Seed}, baseline {report.Baseline}"
        + (report.Kernel is { } kernel ? $", kernel {kernel}" : "")
        + (IsContentsFree(report) ? ", contents-free" : "")
        + (wallTime ? $", {report.WallTime.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s" : "");
}
