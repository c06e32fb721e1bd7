using Vmm.Core.Comparisons;

namespace Vmm.Hosting;

/// <summary>One named series of a bar chart: a value per category.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values);

/// <summary>A bar chart as plain data (<see cref="Name"/> is its file name); a front end draws it (ScottPlot in vmm, SVG on a web page).</summary>
public sealed record BarChart(string Name, string Title, string ValueLabel, IReadOnlyList<string> Categories, IReadOnlyList<ChartSeries> Series, bool Stacked);

/// <summary>
/// The charts of a comparison: "safety", the safety events per stack (host panics, shutdowns, guests killed, silent
/// corruptions, lost errors, summed over the workloads, stacked by kind), and "cost", each workload's modelled time
/// against the baseline per stack.
/// </summary>
public static class ComparisonCharts
{
    private static readonly string[] SafetyEvents =
        [RunMetrics.HostPanics, RunMetrics.Shutdowns, RunMetrics.GuestsKilled, RunMetrics.SilentCorruptions, RunMetrics.UnreportedErrors];

    public static IReadOnlyList<BarChart> From(ComparisonReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var stacks = report.Workloads.Count == 0 ? [] : report.Workloads[0].Rows.Select(r => r.Stack).ToList();
        double Sum(string stack, string metric) => report.Workloads
            .Sum(w => w.Rows.FirstOrDefault(r => r.Stack == stack)?.Metrics.GetValueOrDefault(metric).Mean ?? 0);
        // A metric a contents-free run could not count (NaN) gets no bars rather than zero ones.
        var safety = new BarChart("safety", "Safety events per stack, all workloads", "events",
            stacks, SafetyEvents.Select(m => new ChartSeries(m, stacks.Select(s => Sum(s, m)).ToList())).Where(series => !series.Values.Any(double.IsNaN)).ToList(), Stacked: true);
        var cost = new BarChart("cost", $"Modelled time against {report.Baseline}", "ratio",
            stacks, report.Workloads.Select(w => new ChartSeries(w.Workload, stacks.Select(s => w.Rows.FirstOrDefault(r => r.Stack == s)?.Ratio ?? 0).ToList())).ToList(), Stacked: false);
        return [safety, cost];
    }
}
