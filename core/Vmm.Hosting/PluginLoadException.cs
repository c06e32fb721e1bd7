namespace Vmm.Hosting;

/// <summary>
/// plugins.json or a plugin it lists could not be loaded. The message is one line naming the file, the
/// plugin entry and the reason with the fix; the run stops.
/// </summary>
public sealed class PluginLoadException(string message, string pluginsFile, int? pluginIndex = null, string? pluginName = null) : Exception(message)
{
    /// <summary>How much of a string from the file (a name, a path, a property) a message repeats.</summary>
    public const int EchoLength = 80;

    /// <summary>Full path of the plugins.json in question (empty when none was found).</summary>
    public string PluginsFile { get; } = pluginsFile;

    /// <summary>Index of the entry in <c>plugins</c>, when one entry is at fault.</summary>
    public int? PluginIndex { get; } = pluginIndex;

    public string? PluginName { get; } = pluginName;

    /// <summary>
    /// <paramref name="text"/> as a message may repeat it: control characters escaped (so the message stays
    /// one line) and cut to <paramref name="max"/> characters with "…".
    /// </summary>
    public static string Echo(string text, int max = EchoLength) => Vmm.Core.Scenarios.NameHints.OneLine(text, max);
}
