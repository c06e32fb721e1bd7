namespace Vmm.Hosting;

/// <summary>How a <see cref="ScenarioBatch"/> runs its files.</summary>
public sealed record BatchOptions
{
    /// <summary>The per-scenario time limit of <c>vmm run</c> when none is given.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public ScenarioOverrides Overrides { get; init; } = ScenarioOverrides.None;

    /// <summary>Stop a scenario that runs longer than this (between steps) and go on with the next file; null for no limit.</summary>
    public TimeSpan? Timeout { get; init; } = DefaultTimeout;

    /// <summary>How long past <see cref="Timeout"/> a step that does not return is waited for before the batch moves on without it.</summary>
    public TimeSpan TimeoutGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Run the valid files even when some are invalid or could not be validated (otherwise none runs).</summary>
    public bool KeepGoing { get; init; }

    /// <summary>Read in the messages of scenarios the time limit stopped ("... (--timeout) ..."): the setting's name in the front end.</summary>
    public string TimeoutSettingName { get; init; } = "--timeout";
}

/// <summary>One file of a batch as it runs: <see cref="Number"/> (from 1) of <see cref="Count"/> scenarios.</summary>
public readonly record struct BatchItem(int Number, int Count, string File);

/// <summary>How one file of a batch ended: exactly one of a report, bad input, a time limit or a bug.</summary>
public sealed record BatchEntry(string File, ScenarioReport? Report = null, Diagnostic? Error = null, TimedOutScenario? TimedOut = null, InternalError? InternalError = null)
{
    /// <summary>What to tell the user when the file did not run to its end; null when it did.</summary>
    public string? Message => Error?.ToString() ?? InternalError?.Message ?? TimedOut?.Message;
}

/// <summary>
/// What <see cref="ScenarioBatch.Prepare"/> found: the files, the valid scenarios, and the warnings, bad input and bugs met
/// while validating them, each in file order.
/// </summary>
public sealed record BatchPlan(
    IReadOnlyList<string> Files,
    IReadOnlyList<ValidationResult> Valid,
    IReadOnlyList<Diagnostic> Warnings,
    IReadOnlyList<Diagnostic> Invalid,
    IReadOnlyList<InternalError> Broken)
{
    /// <summary>No file found and nothing wrong with the paths either.</summary>
    public bool IsEmpty => Files.Count == 0 && Invalid.Count == 0;

    public bool HasProblems => Invalid.Count + Broken.Count > 0;
}
