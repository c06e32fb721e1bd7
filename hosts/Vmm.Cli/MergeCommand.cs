using System.CommandLine;
using Vmm.Hosting;
using Vmm.Store;

namespace Vmm.Cli;

/// <summary>
/// <c>vmm merge DIR... [--export md,csv,json] [--output DIR] [--plot] [--store FILE.db] [--force] [--plugins FILE]</c>:
/// the shards that <c>vmm compare --shard I/N</c> wrote, made into the report, exports, charts and stored run that
/// one process would have produced.
/// </summary>
internal static class MergeCommand
{
    public static Command Create(CliContext context)
    {
        var paths = new Argument<string[]>("shards")
        {
            Description = "Directories the shards wrote into (their compare-shard-I-of-N.json files are read), or shard files.",
            Arity = ArgumentArity.OneOrMore,
        };
        var export = new Option<string[]>("--export")
        {
            Description = $"Write the merged comparison into --output as compare.EXTENSION, one file per exporter: {ComparisonExporters.Names}. Comma-separated or repeated.",
            HelpName = "names",
            DefaultValueFactory = _ => [],
        };
        var output = new Option<string?>("--output")
        {
            Description = "The directory --export and --plot write to (default: the current directory; made if missing).",
            HelpName = "dir",
        };
        var plot = new Option<bool>("--plot")
        {
            Description = "Also draw the charts into --output, as vmm compare --plot does.",
        };
        var store = new Option<string?>("--store")
        {
            Description = "Also add the merged comparison to this SQLite database, as vmm compare --store does; a store that already holds this very run is left as it is.",
            HelpName = "file.db",
        };
        var force = new Option<bool>("--force")
        {
            Description = "Let --export and --plot overwrite files that already exist.",
        };
        var plugins = PluginsCommand.PluginsOption();
        var command = new Command("merge",
            """
            Merge the shards of a sweep (vmm compare --shard I/N, one per machine or job) into the report one process
            would have printed: the same tables, claims and conclusions, and byte for byte the same csv and json exports.
            Every shard 0 ... N-1 must be there, once, from the same comparison and the same vmm build (docs/shards.md).

            Examples:
              vmm merge results/
              vmm merge results/ --export md,csv,json --output report/ --plot --store runs.db
              vmm merge node1/ node2/ node3/ --export json

            Exit codes: 0 merged; 2 invalid input (a missing, repeated or foreign shard, an existing export file);
            3 internal error.
            """)
        {
            paths, export, output, plot, store, force, plugins,
        };
        command.SetAction(parseResult => Execute(
            context,
            parseResult.GetValue(paths) ?? [],
            parseResult.GetValue(export) ?? [],
            parseResult.GetValue(output),
            parseResult.GetValue(plot),
            parseResult.GetValue(store),
            parseResult.GetValue(force),
            parseResult.GetValue(plugins)));
        return command;
    }

    private static int Execute(CliContext context, string[] paths, string[] exportNames, string? output, bool plot, string? storePath, bool force, string? plugins)
    {
        return CompareCommand.Guarded(context, () =>
        {
            if (paths.FirstOrDefault(p => p.StartsWith('-')) is { } option)
            {
                context.Error($"unknown option {option}; see vmm merge --help");
                return ExitCodes.BadInput;
            }
            var exports = CompareCommand.ParseExports(exportNames, output, force, plot, out var exportError);
            if (exports is null)
            {
                context.Error(exportError!);
                return ExitCodes.BadInput;
            }
            var files = ComparisonRunner.FindShardFiles(paths);
            using var host = VmmHost.Load(PluginsLocator.Find(plugins), context.ConfigureServices);
            var merged = new ComparisonRunner(host).Merge(files);
            using var database = storePath is not null ? ComparisonStore.Open(storePath) : null;
            context.Error($"merged {merged.Files.Count} shard{(merged.Files.Count == 1 ? "" : "s")} of {merged.Report.Runs} runs: {string.Join(", ", merged.Files)}");
            return CompareCommand.WriteReport(context, merged.Report, merged.Comparison, database, exports, plot, output, force, storeAgain: false);
        });
    }
}
