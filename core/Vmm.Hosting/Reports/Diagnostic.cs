using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

public enum DiagnosticSeverity
{
    Error,
    Warning,
}

/// <summary>
/// Bad input (an error) or probably-unintended input (a warning) at a place in a file; <see cref="Line"/> 0 means the
/// file as a whole. Shown as "FILE:LINE:COLUMN: message" or "FILE:LINE:COLUMN: warning: message".
/// </summary>
public sealed record Diagnostic(string File, long Line, long Column, string Message, DiagnosticSeverity Severity = DiagnosticSeverity.Error)
{
    /// <summary>"FILE:LINE:COLUMN", or just FILE when there is no line.</summary>
    public string Location => Line > 0 ? $"{File}:{Line}:{Column}" : File;

    public override string ToString() => Severity == DiagnosticSeverity.Warning ? $"{Location}: warning: {Message}" : $"{Location}: {Message}";

    internal static Diagnostic From(ScenarioException error) =>
        new(error.Location.File, error.Location.Line, error.Location.Column, error.Message);

    internal static Diagnostic From(ScenarioWarning warning) =>
        new(warning.Location.File, warning.Location.Line, warning.Location.Column, warning.Message, DiagnosticSeverity.Warning);
}

/// <summary>Bad input met while expanding paths or running a scenario (what <see cref="VmmHost"/> throws instead of the engine's own exception).</summary>
public sealed class InvalidScenarioException : Exception
{
    public InvalidScenarioException(Diagnostic diagnostic, Exception? inner = null)
        : base(diagnostic?.Message, inner) =>
        Diagnostic = diagnostic ?? throw new ArgumentNullException(nameof(diagnostic));

    public Diagnostic Diagnostic { get; }

    public override string ToString() => Diagnostic.ToString();
}
