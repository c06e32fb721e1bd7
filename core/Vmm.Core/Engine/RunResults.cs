using Vmm.Abstractions;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine;

/// <summary>What a run may change from the file: the kernel version (`--kernel`) and component names (`--set kind=name`).</summary>
public sealed record RunOverrides
{
    public static readonly RunOverrides None = new();

    public KernelVersion? Kernel { get; init; }

    public IReadOnlyDictionary<ComponentKind, string> Components { get; init; } = new Dictionary<ComponentKind, string>();

    /// <summary>`--contents-free`: run with memory.contents "none", whatever the file says.</summary>
    public bool ContentsFree { get; init; }
}

/// <summary>One step's result: no expectation means passed (the outcome is only recorded).</summary>
public sealed record StepResult(int Index, string Op, Expectation? Expected, Outcome Actual, bool Passed, SourceLocation Location)
{
    /// <summary>The expectation names data, which a contents-free run cannot check: <see cref="Passed"/> compares the rest only.</summary>
    public bool DataNotChecked { get; init; }

    /// <summary>The pfns the step reached that lost err follows: the frame a hw.* op acted on, and frames such an op hit earlier whose data the step read or wrote.</summary>
    public IReadOnlyList<ulong> Frames { get; init; } = [];
}

/// <summary>One scenario's result, with the components and kernel actually used and the cost ledger's counters.</summary>
public sealed record ScenarioResult(
    string File,
    string Name,
    bool Passed,
    IReadOnlyList<StepResult> Steps,
    IReadOnlyList<string> Warnings,
    IReadOnlyDictionary<string, long> Costs,
    double ModelledNanoseconds,
    KernelVersion Kernel,
    IReadOnlyDictionary<ComponentKind, string> Components)
{
    /// <summary>Modelled time per cost kind with a non-zero share, in nanoseconds (what <see cref="ModelledNanoseconds"/> sums).</summary>
    public IReadOnlyDictionary<string, double> ModelledNanosecondsByKind { get; init; } = new Dictionary<string, double>();

    /// <summary>The most frames the machine had in use at once (the zero page included); 0 from a machine that does not say.</summary>
    public long PeakFramesInUse { get; init; }

    /// <summary>The run kept no bytes (memory.contents "none"): data returned is zeros, data-dependent results are not available.</summary>
    public bool ContentsFree { get; init; }
}
