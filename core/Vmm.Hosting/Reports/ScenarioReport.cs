namespace Vmm.Hosting;

/// <summary>One scenario that ran to its end: its steps, the components and kernel actually used, warnings and costs.</summary>
public sealed record ScenarioReport(
    string File,
    string Name,
    bool Passed,
    IReadOnlyList<StepReport> Steps,
    IReadOnlyList<string> Warnings,
    string Kernel,
    IReadOnlyList<ComponentChoice> Components,
    ScenarioCosts Costs)
{
    /// <summary>"memory plain, policy none, kernel 5.16": what the scenario ran on, in kind order.</summary>
    public string Setup => string.Join(", ", Components.Select(c => $"{c.Kind} {c.Name}")) + $", kernel {Kernel}";
}

/// <summary>The component of one kind a run used: <see cref="Kind"/> as a scenario writes it ("memory", "policy", ...).</summary>
public sealed record ComponentChoice(string Kind, string Name);

/// <summary>The cost ledger of one run: modelled time and the non-zero event counters in ordinal order of their names.</summary>
public sealed record ScenarioCosts(double ModelledNanoseconds, IReadOnlyList<CostCount> Counts)
{
    public static readonly ScenarioCosts None = new(0, []);
}

public sealed record CostCount(string Kind, long Count);
