using System.Globalization;
using Vmm.Core.Comparisons;

namespace Vmm.Hosting;

/// <summary>Conclusions in words, computed from the tables: what each stack prevents or adds against the baseline, and what it costs.</summary>
internal static class Conclusions
{
    public static IReadOnlyList<string> Of(IReadOnlyList<WorkloadTable> tables, string baseline)
    {
        var lines = new List<string>();
        // kvm B is part of leaked B: said once.
        var safety = RunMetrics.Definitions.Where(d => d.Group == MetricGroup.Safety && d.Name != RunMetrics.KvmPlaintext).ToList();
        foreach (var table in tables)
        {
            var reference = table.Rows.FirstOrDefault(r => r.IsBaseline);
            if (reference is null) continue;
            foreach (var row in table.Rows.Where(r => !r.IsBaseline))
            {
                var parts = new List<string>();
                foreach (var metric in safety)
                {
                    if (!reference.Metrics.TryGetValue(metric.Name, out var baseValue) || !row.Metrics.TryGetValue(metric.Name, out var value)) continue;
                    var (theirs, mine) = (baseValue.Mean, value.Mean);
                    var what = Describe(metric.Name);
                    if (theirs > 0 && mine == 0) parts.Add($"prevents all {Number(theirs)} {what} of {baseline}");
                    else if (theirs > 0 && mine < theirs) parts.Add($"cuts {what} from {Number(theirs)} to {Number(mine)}");
                    else if (mine > theirs) parts.Add($"has {Number(mine)} {what} where {baseline} has {Number(theirs)}");
                }
                if (parts.Count > 0) lines.Add($"{table.Workload}: {row.Stack} {string.Join("; ", parts)}.");
            }
            var priced = table.Rows.Where(r => r.Ratio is not null).ToList();
            if (priced.Count > 1)
            {
                var cheapest = priced.MinBy(r => r.Ratio!.Value)!;
                var dearest = priced.MaxBy(r => r.Ratio!.Value)!;
                if (cheapest != dearest)
                    lines.Add($"{table.Workload}: modelled time from {Ratio(cheapest)} to {Ratio(dearest)} of {baseline}'s.");
            }
        }
        return lines;
    }

    private static string Ratio(StackRow row) => $"{row.Stack} {row.Ratio!.Value.ToString("0.00", CultureInfo.InvariantCulture)}×";

    private static string Describe(string metric) => metric switch
    {
        RunMetrics.HostPanics => "host panics",
        RunMetrics.Shutdowns => "shutdowns",
        RunMetrics.GuestsKilled => "guest kills",
        RunMetrics.PlaintextBytes => "bytes of guest plaintext leaked to the host",
        RunMetrics.SilentCorruptions => "silent corruptions",
        RunMetrics.CrossVm => "bytes of one guest's data read by another",
        RunMetrics.UnreportedErrors => "unreported memory errors",
        _ => metric,
    };

    internal static string Number(double value) =>
        value == Math.Floor(value) ? value.ToString("0", CultureInfo.InvariantCulture) : value.ToString("0.##", CultureInfo.InvariantCulture);
}
