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
        if (!string.IsNullOrWhiteSpace(explicitPath)) return FullPathOf(explicitPath, "--plugins");
        if (!string.IsNullOrWhiteSpace(environmentValue)) return FullPathOf(environmentValue, EnvironmentVariable);
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

    /// <summary>
    /// <see cref="Path.GetFullPath(string)"/> for a path a user wrote; one that no file can have (empty, a NUL
    /// character) is a <see cref="PluginLoadException"/> that begins with <paramref name="what"/>.
    /// </summary>
    internal static string FullPathOf(string path, string what, string pluginsFile = "")
    {
        if (path.Length == 0)
            throw new PluginLoadException($"{what} is an empty path; name a file", pluginsFile);
        if (path.Contains('\0', StringComparison.Ordinal))
            throw new PluginLoadException($"{what} \"{PluginLoadException.Echo(path)}\" contains a NUL character (\\u0000), which no file name can hold; remove it", pluginsFile);
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new PluginLoadException($"{what} \"{PluginLoadException.Echo(path)}\" is not a valid path ({PluginLoadException.Echo(e.Message, 120)}); fix it", pluginsFile);
        }
    }
}
