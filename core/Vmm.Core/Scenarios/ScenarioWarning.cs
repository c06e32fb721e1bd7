namespace Vmm.Core.Scenarios;

/// <summary>
/// Something in a valid scenario that is probably not what its author meant (an option for a component the
/// run does not use): the run goes on; front ends print it as "FILE:LINE:COL: warning: MESSAGE".
/// </summary>
public sealed record ScenarioWarning(string Message, SourceLocation Location)
{
    public override string ToString() => $"{Location}: warning: {Message}";
}
