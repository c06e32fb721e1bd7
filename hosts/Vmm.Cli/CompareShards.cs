using System.Globalization;
using System.Text;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary><c>vmm compare --shard I/N</c> (one slice of the runs into a shard file for <c>vmm merge</c>) and <c>vmm compare --plan</c>.</summary>
internal static class CompareShards
{
    /// <summary>Checks --shard and --plan against the other options before anything runs; <paramref name="shard"/> is the parsed --shard.</summary>
    public static bool Allowed(
        string? shardText, bool plan, string[] exports, bool plot, string? store, string? dump, string? output, bool force,
        out ComparisonShard? shard, out string? error)
    {
        shard = null;
        error = null;
        if (plan)
        {
            var extra = new[] { (shardText is not null, "--shard"), (exports.Length > 0, "--export"), (plot, "--plot"), (store is not null, "--store"), (dump is not null, "--dump"), (output is not null, "--output") }
                .Where(o => o.Item1).Select(o => o.Item2).ToList();
            if (extra.Count > 0)
            {
                error = $"--plan only prints the plan and writes nothing; drop {string.Join(" and ", extra)}";
                return false;
            }
            return true;
        }
        if (shardText is null) return true;
        try
        {
            shard = ComparisonShard.Parse(shardText);
        }
        catch (ComparisonException e)
        {
            error = e.Message;
            return false;
        }
        var report = new[] { (exports.Length > 0, "--export"), (plot, "--plot"), (store is not null, "--store") }.Where(o => o.Item1).Select(o => o.Item2).ToList();
        if (report.Count > 0)
        {
            error = $"--shard writes one slice of the runs, not a report; drop {string.Join(" and ", report)} here and give it to vmm merge (vmm merge {output ?? "."} {string.Join(" ", report.Select(o => o == "--export" ? "--export " + string.Join(",", exports) : o == "--store" ? $"--store {store}" : o))})";
            return false;
        }
        var directory = output ?? ".";
        if (File.Exists(directory))
        {
            error = $"--output: {directory} is a file; name a directory (it is made if missing)";
            return false;
        }
        var file = Path.Combine(directory, ComparisonShardFile.FileName(shard.Value));
        if (!force && (File.Exists(file) || Directory.Exists(file)))
        {
            error = $"--shard: {file} already exists; give --force to overwrite it, or another --output";
            return false;
        }
        return true;
    }

    /// <summary>Runs the shard's runs and writes <c>compare-shard-I-of-N.json</c> into <paramref name="output"/> whole or not at all.</summary>
    public static int Run(CliContext context, VmmHost host, ComparisonRunner runner, Comparison comparison, ComparisonShard shard, string? output, bool force)
    {
        var result = CompareCommand.RunWithProgress(context, runner, shard.Runs(comparison.RunCount).Count, () => runner.RunShard(comparison, shard));
        var shardFile = ComparisonShardFile.Of(comparison, result, ComparisonShardFile.EngineOf(host));
        var directory = output ?? ".";
        var file = Path.Combine(directory, ComparisonShardFile.FileName(shard));
        // Written beside and renamed, so that a shard killed while writing leaves no file that merge would half-read.
        var partial = file + ".partial";
        try
        {
            Directory.CreateDirectory(directory);
            using (var writer = new StreamWriter(partial, append: false, new UTF8Encoding(false)))
                shardFile.Write(writer);
            File.Move(partial, file, overwrite: force);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(partial);
            context.Error($"--shard: cannot write {file}: {e.Message}");
            return ExitCodes.BadInput;
        }
        context.Stdout.WriteLine(
            $"shard {shard}: {result.Results.Count} of {comparison.RunCount} runs, seed {comparison.Seed}, {result.WallTime.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        context.Error($"wrote {file}; when all {shard.Count} shards are written, merge them: vmm merge {directory}");
        return ExitCodes.Passed;
    }

    /// <summary>Prints the runs, their estimated cost, the largest shard for several N, and a suggested N.</summary>
    public static int Plan(CliContext context, ComparisonRunner runner, Comparison comparison)
    {
        var plan = runner.Plan(comparison);
        var text = new StringBuilder();
        var totalSteps = plan.Runs.Sum(r => (long)r.Steps);
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{comparison.Workloads.Count} workloads × {comparison.Stacks.Count} stacks × {comparison.Repeat} seed{(comparison.Repeat == 1 ? "" : "s")} = {comparison.RunCount} runs, {totalSteps} steps, seed {comparison.Seed}, baseline {comparison.Baseline}");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"estimated cost: {Seconds(plan.EstimatedMilliseconds)} s on one core: each run's steps (counted from its scenario) × its workload's time per step, the faster of two timed runs of each workload under {plan.CalibrationStack}, just now (stacks are taken to cost alike; a loaded machine makes the figure larger)");
        text.AppendLine();
        var width = Math.Max("workload".Length, comparison.Workloads.Max(w => w.Length));
        text.AppendLine(CultureInfo.InvariantCulture, $"{"workload".PadRight(width)}  runs  steps/run  ms/step  est. s");
        foreach (var workload in plan.Runs.GroupBy(r => r.Workload))
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{workload.Key.PadRight(width)}  {workload.Count(),4}  {workload.Average(r => r.Steps),9:0}  {plan.MillisecondsPerStep[workload.Key],7:0.000}  {Seconds(workload.Sum(r => r.EstimatedMilliseconds)),6}");
        text.AppendLine();
        text.AppendLine("shards  runs each  largest shard, est. s on one core");
        var counts = Enumerable.Range(0, 11).Select(p => 1 << p).Where(n => n <= comparison.RunCount).Append(plan.SuggestedShards).Distinct().Order();
        foreach (var count in counts)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{count,6}  {(comparison.RunCount + count - 1) / count,9}  {Seconds(plan.LargestShardMilliseconds(count))}{(count == plan.SuggestedShards ? "  (suggested)" : "")}");
        text.AppendLine();
        var target = ComparisonPlan.TargetPerShard.TotalMinutes;
        text.AppendLine(plan.SuggestedShards == 1
            ? $"suggested: 1 shard; the whole comparison is under {target} minutes of one core's work, so one process is enough (vmm compare, --jobs per core)"
            : $"suggested: {plan.SuggestedShards} shards of about {target} minutes of one core's work each (a shard's start-up and scheduling are then a small part of it): vmm compare --shard I/{plan.SuggestedShards} for I = 0 ... {plan.SuggestedShards - 1}, or sbatch --array=0-{plan.SuggestedShards - 1} deploy/slurm/compare-array.sh");
        context.Stdout.Write(text.ToString());
        return ExitCodes.Passed;
    }

    private static string Seconds(double milliseconds) => (milliseconds / 1000).ToString(milliseconds < 10_000 ? "0.00" : "0", CultureInfo.InvariantCulture);
}
