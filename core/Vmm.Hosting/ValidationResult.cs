using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>Result of <see cref="VmmHost.Validate"/>: the scenario, or the error with its location.</summary>
public sealed record ValidationResult(string File, Scenario? Scenario, ScenarioException? Error)
{
    public bool IsValid => Error is null;

    /// <summary>What is valid but probably not meant (an option for a component the run does not use); front ends print these as warnings.</summary>
    public IReadOnlyList<ScenarioWarning> Warnings { get; init; } = [];
}
