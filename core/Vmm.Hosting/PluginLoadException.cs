namespace Vmm.Hosting;

/// <summary>
/// plugins.json or a plugin it lists could not be loaded. The message is one line naming the file, the
/// plugin entry and the reason with the fix; the run stops.
/// </summary>
public sealed class PluginLoadException(string message, string pluginsFile, int? pluginIndex = null, string? pluginName = null) : Exception(message)
{
    /// <summary>Full path of the plugins.json in question (empty when none was found).</summary>
    public string PluginsFile { get; } = pluginsFile;

    /// <summary>Index of the entry in <c>plugins</c>, when one entry is at fault.</summary>
    public int? PluginIndex { get; } = pluginIndex;

    public string? PluginName { get; } = pluginName;
}
