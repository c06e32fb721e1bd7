using Vmm.Core.Scenarios;

namespace Vmm.Hosting;

/// <summary>"Did you mean" hints for a front end's own names (options, commands), by the rules scenario names get.</summary>
public static class NameHint
{
    /// <summary>" (did you mean "--stack"?)" after a wrong name, or "" when no known name is close.</summary>
    public static string DidYouMean(string given, IEnumerable<string> known) => NameHints.DidYouMean(given, known);
}
