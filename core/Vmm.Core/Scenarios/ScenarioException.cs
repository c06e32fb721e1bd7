namespace Vmm.Core.Scenarios;

/// <summary>Bad input in a scenario (or its options): one message naming the place and the fix. Exit code 2.</summary>
public sealed class ScenarioException(string message, SourceLocation location) : Exception(message)
{
    public SourceLocation Location { get; } = location;

    public override string ToString() => $"{Location}: {Message}";
}
