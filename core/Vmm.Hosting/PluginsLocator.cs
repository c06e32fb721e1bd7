namespace Vmm.Hosting;

/// <summary>Finds the plugins.json a front end uses: <c>--plugins</c>, else <c>VMM_PLUGINS</c>, else the nearest plugins.json above the current directory or the program.</summary>
public static class PluginsLocator
{
    public const string FileName = "plugins.json";
    public const string EnvironmentVariable = "VMM_PLUGINS";

    /// <summary>The full path to use; throws <see cref="PluginLoadException"/> when nothing names or holds one.</summary>
    public static string Find(string? explicitPath = null) =>
        Find(explicitPath, Environment.GetEnvironmentVariable(EnvironmentVariable), [Directory.GetCurrentDirectory(), AppContext.BaseDirectory]);

    public static string Find(string? explicitPath, string? environmentValue, IReadOnlyList<string> searchFrom)
    {
        ArgumentNullException.ThrowIfNull(searchFrom);
        if (!string.IsNullOrWhiteSpace(explicitPath)) return Path.GetFullPath(explicitPath);
        if (!string.IsNullOrWhiteSpace(environmentValue)) return Path.GetFullPath(environmentValue);
        foreach (var start in searchFrom)
        {
            for (var directory = new DirectoryInfo(Path.GetFullPath(start)); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, FileName);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new PluginLoadException(
            $"no {FileName} found above {string.Join(" or ", searchFrom.Select(Path.GetFullPath).Distinct())}; pass --plugins FILE or set {EnvironmentVariable}",
            "");
    }
}
