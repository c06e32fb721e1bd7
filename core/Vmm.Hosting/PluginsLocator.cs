namespace Vmm.Hosting;

/// <summary>Finds the plugins.json a front end uses: <c>--plugins</c>, else <c>VMM_PLUGINS</c>, else the nearest plugins.json above the current directory or the program.</summary>
public static class PluginsLocator
{
    public const string FileName = "plugins.json";
    public const string EnvironmentVariable = "VMM_PLUGINS";

    /// <summary>
    /// The folder beside a packaged program (the vmm .NET tool, a test project with the Vmm.Testing package) that holds
    /// the built-in plugins it carries: a plugins.json and one folder per plugin. A build from the repository has none.
    /// </summary>
    public const string BundledFolder = "vmm-plugins";

    /// <summary>The bundled plugins.json under <paramref name="programDirectory"/> (<see cref="BundledFolder"/>), or null.</summary>
    public static string? Bundled(string programDirectory)
    {
        ArgumentNullException.ThrowIfNull(programDirectory);
        var candidate = Path.GetFullPath(Path.Combine(programDirectory, BundledFolder, FileName));
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>
    /// Every plugins.json to load, in order: the <see cref="Bundled"/> one beside the program, if any, then the user's
    /// (<c>--plugins</c>, else <c>VMM_PLUGINS</c>, else the nearest above the current directory, the scenario files in
    /// <paramref name="nearPaths"/>, or the program). A program that carries plugins needs no plugins.json of the user's;
    /// one without throws <see cref="PluginLoadException"/> when none is found, as <see cref="Find(string?)"/> does.
    /// </summary>
    public static IReadOnlyList<string> FindAll(string? explicitPath = null, IEnumerable<string>? nearPaths = null) =>
        FindAll(explicitPath, Environment.GetEnvironmentVariable(EnvironmentVariable), Directory.GetCurrentDirectory(), nearPaths ?? [], AppContext.BaseDirectory);

    public static IReadOnlyList<string> FindAll(string? explicitPath, string? environmentValue, string currentDirectory, IEnumerable<string> nearPaths, string programDirectory)
    {
        ArgumentNullException.ThrowIfNull(nearPaths);
        var bundled = Bundled(programDirectory);
        // A scenario path is searched from its own folder; one that is not a valid path is reported by the command that reads it.
        var near = nearPaths.Where(p => !string.IsNullOrWhiteSpace(p) && !p.Contains('\0', StringComparison.Ordinal) && !p.StartsWith('-'))
            .Select(p => Directory.Exists(p) ? p : Path.GetDirectoryName(Path.GetFullPath(p)) ?? p);
        string user;
        try
        {
            user = Find(explicitPath, environmentValue, [currentDirectory, .. near, programDirectory]);
        }
        catch (PluginLoadException) when (bundled is not null && string.IsNullOrWhiteSpace(explicitPath) && string.IsNullOrWhiteSpace(environmentValue))
        {
            return [bundled];
        }
        return bundled is null || string.Equals(bundled, user, StringComparison.Ordinal) ? [user] : [bundled, user];
    }

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
