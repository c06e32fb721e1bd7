using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>
/// Result of <see cref="VmmHost.Validate"/>: the scenario's name and steps, or the error with its location. A valid
/// result is what <see cref="VmmHost.Run(ValidationResult, ScenarioOverrides?, Action{StepReport}?, CancellationToken)"/> runs.
/// </summary>
public sealed record ValidationResult
{
    internal ValidationResult(string file, Scenario? scenario, Diagnostic? error, IReadOnlyList<Diagnostic> warnings)
    {
        File = file;
        Scenario = scenario;
        Error = error;
        Warnings = warnings;
    }

    public string File { get; }

    /// <summary>The scenario's "name"; null when the file is invalid.</summary>
    public string? Name => Scenario?.Name;

    /// <summary>How many steps the scenario has; 0 when the file is invalid.</summary>
    public int StepCount => Scenario?.Steps.Count ?? 0;

    public Diagnostic? Error { get; }

    public bool IsValid => Error is null;

    /// <summary>What is valid but probably not meant (an option for a component the run does not use); front ends print these as warnings.</summary>
    public IReadOnlyList<Diagnostic> Warnings { get; }

    internal Scenario? Scenario { get; }
}
