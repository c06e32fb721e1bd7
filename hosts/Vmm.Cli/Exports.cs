using System.Text;
using Vmm.Hosting;
using Vmm.Hosting.Exporters;

namespace Vmm.Cli;

/// <summary><c>--export NAMES --output DIR [--force]</c>: the exporters to run and the files they write (DIR/run.EXTENSION).</summary>
internal sealed class Exports
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly IReadOnlyList<(IRunExporter Exporter, string File)> _targets;
    private readonly bool _force;

    private Exports(IReadOnlyList<(IRunExporter, string)> targets, bool force)
    {
        _targets = targets;
        _force = force;
    }

    /// <summary>The exports asked for (none when <paramref name="names"/> is empty); null and a message when a name is unknown or a file exists.</summary>
    public static Exports? Parse(IReadOnlyList<string> names, string? output, bool force, out string? error)
    {
        error = null;
        var exporters = new List<IRunExporter>();
        foreach (var name in names.SelectMany(n => n.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var exporter = RunExporters.Find(name);
            if (exporter is null)
            {
                error = $"--export: unknown exporter \"{name}\"; known: {RunExporters.Names}";
                return null;
            }
            if (!exporters.Contains(exporter)) exporters.Add(exporter);
        }
        if (exporters.Count == 0 && names.Count > 0)
        {
            error = $"--export: name at least one exporter: {RunExporters.Names}";
            return null;
        }
        if (exporters.Count == 0 && output is not null)
        {
            error = $"--output: give --export too, e.g. --export md,json --output {output}";
            return null;
        }
        var directory = output ?? ".";
        if (File.Exists(directory))
        {
            error = $"--output: {directory} is a file; name a directory (it is made if missing)";
            return null;
        }
        var targets = exporters.Select(e => (e, Path.Combine(directory, $"run.{e.FileExtension}"))).ToList();
        if (!force && targets.FirstOrDefault(t => File.Exists(t.Item2) || Directory.Exists(t.Item2)) is { Item1: not null } existing)
        {
            error = $"--export: {existing.Item2} already exists; give --force to overwrite it, or another --output";
            return null;
        }
        return new Exports(targets, force);
    }

    /// <summary>Writes every export and says where; false (after a message) when one could not be written.</summary>
    public bool Write(CliContext context, RunReport report)
    {
        foreach (var (exporter, file) in _targets)
        {
            try
            {
                var directory = Path.GetDirectoryName(file);
                if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
                using (var stream = new FileStream(file, _force ? FileMode.Create : FileMode.CreateNew, FileAccess.Write))
                using (var writer = new StreamWriter(stream, Utf8))
                    exporter.Export(report, writer);
                context.Error($"wrote {file}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var fix = !_force && File.Exists(file) ? "; give --force to overwrite it, or another --output" : "";
                context.Error($"--export: cannot write {file}: {e.Message}{fix}");
                return false;
            }
        }
        return true;
    }
}
