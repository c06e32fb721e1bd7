using Vmm.Core.Comparisons;

namespace Vmm.Hosting;

/// <summary>The result of a comparison: one table per workload, the metrics' legend and conclusions in words.</summary>
public sealed record ComparisonReport(
    IReadOnlyList<WorkloadTable> Workloads,
    IReadOnlyList<MetricInfo> Metrics,
    string Baseline,
    int Seed,
    int Repeat,
    string? Kernel,
    int Runs,
    TimeSpan WallTime,
    IReadOnlyList<string> Conclusions)
{
    /// <summary>The reviewers' claims with verdicts computed from <see cref="Workloads"/>.</summary>
    public IReadOnlyList<ClaimVerdict> Claims { get; init; } = [];
}

/// <summary>A metric's column, group ("safety", "availability", "cost") and meaning.</summary>
public sealed record MetricInfo(string Name, string Group, string Description, bool LowerIsBetter)
{
    internal static MetricInfo Of(MetricDefinition definition) =>
        new(definition.Name, definition.Group.ToString().ToLowerInvariant(), definition.Description, definition.LowerIsBetter);
}

/// <summary>One workload under every stack: the workload's description and a row per stack, in the comparison's stack order.</summary>
public sealed record WorkloadTable(string Workload, string Description, IReadOnlyList<StackRow> Rows);

/// <summary>
/// One stack's results on one workload: each metric's mean over the repeats and its standard deviation (0 for one
/// run), the modelled-time ratio against the baseline's row, and the simulator's own wall time.
/// </summary>
public sealed record StackRow(string Stack, bool IsBaseline, IReadOnlyDictionary<string, MetricValue> Metrics, double? Ratio, double WallMilliseconds, int Steps)
{
    /// <summary>Mean modelled time per cost kind (the cost table's categories), in nanoseconds; kinds with no time are left out.</summary>
    public IReadOnlyDictionary<string, double> ModelledNanosecondsByKind { get; init; } = new Dictionary<string, double>();
}

public readonly record struct MetricValue(double Mean, double StdDev);
