namespace Vmm.Hosting.Exporters;

/// <summary>Writes a whole run as one document (BenchmarkDotNet's IExporter): <c>vmm run --export NAME</c> writes <c>run.EXTENSION</c>.</summary>
public interface IRunExporter
{
    /// <summary>The name <c>--export</c> takes ("json", "md").</summary>
    string Name { get; }

    /// <summary>The file extension without the dot.</summary>
    string FileExtension { get; }

    void Export(RunReport report, TextWriter output);
}

/// <summary>The exporters this library offers, found by name.</summary>
public static class RunExporters
{
    public static IReadOnlyList<IRunExporter> All { get; } = [JsonExporter.Default, MarkdownExporter.Default];

    /// <summary>The exporter called <paramref name="name"/> (ordinal, case-insensitive), or null.</summary>
    public static IRunExporter? Find(string name) =>
        All.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>"json, md": the names, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(e => e.Name));
}
