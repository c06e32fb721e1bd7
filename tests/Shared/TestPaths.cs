namespace Vmm.Tests.Infrastructure;

/// <summary>The repository root, the test plugins' build output, and scratch directories with plugins.json files.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>artifacts/testplugins/&lt;name&gt;/&lt;name&gt;.dll, built by the test project's ProjectReference.</summary>
    public static string TestPlugin(string name) => Path.Combine(RepoRoot, "artifacts", "testplugins", name, name + ".dll");

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Vmm.sln"))) return directory.FullName;
        throw new InvalidOperationException($"Vmm.sln not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary directory deleted after the test.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vmm-tests-" + Guid.NewGuid().ToString("N"));

    public string Write(string relativePath, string content)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    /// <summary>Writes plugins.json listing (name, absolute or relative path) entries.</summary>
    public string PluginsJson(params (string Name, string Path)[] plugins) =>
        Write("plugins.json", "{ \"plugins\": [" + string.Join(", ", plugins.Select(p => $"{{ \"name\": \"{p.Name}\", \"path\": {System.Text.Json.JsonSerializer.Serialize(p.Path)} }}")) + "] }");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
