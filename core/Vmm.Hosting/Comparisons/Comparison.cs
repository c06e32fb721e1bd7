using Vmm.Abstractions;

namespace Vmm.Hosting;

/// <summary>
/// What to compare: every stack runs every workload with seeds <see cref="Seed"/> .. <see cref="Seed"/> + <see cref="Repeat"/> - 1;
/// ratios are against <see cref="Baseline"/> (a stack's label). <see cref="Options"/> ("section.option" → value as
/// JSON or plain text) apply to every run and to the workloads themselves (e.g. "boot.pages").
/// </summary>
public sealed record Comparison
{
    public required IReadOnlyList<Stack> Stacks { get; init; }

    public required IReadOnlyList<string> Workloads { get; init; }

    public required string Baseline { get; init; }

    public int Seed { get; init; } = 1;

    public int Repeat { get; init; } = 1;

    public KernelVersion? Kernel { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Options { get; init; } = [];

    /// <summary>How many runs execute at once (default: one per core); results do not depend on it.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>When set, every run is also written there as a scenario file whose expectations are what the run observed.</summary>
    public string? DumpDirectory { get; init; }

    /// <summary>The total number of runs.</summary>
    public int RunCount => Stacks.Count * Workloads.Count * Repeat;
}
