using System.Text.Json.Nodes;

namespace Vmm.Hosting;

/// <summary>A merge of every shard of one comparison: the comparison read back from the shard files and its report.</summary>
public sealed record ComparisonMerge(Comparison Comparison, ComparisonReport Report, IReadOnlyList<string> Files);

public sealed partial class ComparisonRunner
{
    /// <summary>
    /// The shard files named by <paramref name="paths"/>: a directory stands for its <c>compare-shard-I-of-N.json</c>
    /// files (not those of its subdirectories), a file for itself. A path that does not exist, or a directory without
    /// shard files, is a <see cref="ComparisonException"/> naming it.
    /// </summary>
    public static IReadOnlyList<string> FindShardFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "compare-shard-*-of-*.json").Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                    throw new ComparisonException($"{path} holds no shard files (compare-shard-I-of-N.json); vmm compare --shard I/N --output {path} writes them");
                files.AddRange(found);
            }
            else if (File.Exists(path)) files.Add(path);
            else throw new ComparisonException($"{path}: no such directory or file");
        }
        if (files.Count == 0) throw new ComparisonException("name the directories the shards wrote into, e.g. vmm merge results/");
        return files.DistinctBy(Path.GetFullPath).ToList();
    }

    /// <summary>
    /// Reads the shard files and builds the report the comparison would have had in one process (<see cref="Report"/>;
    /// its wall time is the longest shard's). Shards of another comparison or engine, a shard given twice, a missing
    /// shard, and a vmm other than the one that ran the shards are <see cref="ComparisonException"/>s that name them.
    /// </summary>
    public ComparisonMerge Merge(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0) throw new ComparisonException("no shard file to merge");
        var shards = files.Select(f => (Path: f, File: ComparisonShardFile.Read(f))).ToList();
        var (firstPath, first) = shards[0];
        foreach (var (path, shard) in shards.Skip(1))
        {
            if (shard.Fingerprint != first.Fingerprint)
                throw new ComparisonException(
                    $"{path} is from another comparison than {firstPath}: fingerprint {shard.Fingerprint} against {first.Fingerprint}"
                    + (shard.Comparison == first.Comparison
                        ? $" (the same comparison run by another engine: {shard.Engine} against {first.Engine})"
                        : $" (the comparisons differ in {string.Join(", ", Differences(shard.Comparison, first.Comparison))})"));
            if (shard.Result.Shard.Count != first.Result.Shard.Count)
                throw new ComparisonException($"{path} is shard {shard.Result.Shard} and {firstPath} is shard {first.Result.Shard}: the sweep was cut into {shard.Result.Shard.Count} and into {first.Result.Shard.Count} shards; merge the shards of one cut");
        }
        var count = first.Result.Shard.Count;
        var byIndex = new string?[count];
        foreach (var (path, shard) in shards)
        {
            if (byIndex[shard.Result.Shard.Index] is { } earlier)
                throw new ComparisonException($"shard {shard.Result.Shard} is given twice: {earlier} and {path}; keep one");
            byIndex[shard.Result.Shard.Index] = path;
        }
        var missing = Enumerable.Range(0, count).Where(i => byIndex[i] is null).Select(i => new ComparisonShard(i, count)).ToList();
        if (missing.Count > 0)
            throw new ComparisonException(missing.Count == 1
                ? $"shard {missing[0]} is missing ({ComparisonShardFile.FileName(missing[0])}); run it with vmm compare --shard {missing[0]}, then merge again"
                : $"shards {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? $" and {missing.Count - 8} more" : "")} of {count} are missing; run them with vmm compare --shard I/{count}, then merge again");

        var comparison = ComparisonFile.Parse(first.Comparison, $"{firstPath} (its comparison)", host.Components, Default());
        var engine = ComparisonShardFile.EngineOf(host);
        if (ComparisonShardFile.FingerprintOf(ComparisonFile.ToJson(comparison), engine) != first.Fingerprint)
            throw new ComparisonException(first.Engine != engine
                ? $"the shards were run by {first.Engine}; this is {engine}: merge with the build and plugins that ran them"
                : $"{firstPath}: its fingerprint {first.Fingerprint} is not its comparison's (an edited file; run the shards again)");
        var report = Report(comparison, [.. shards.SelectMany(s => s.File.Result.Results)], shards.Max(s => s.File.Result.WallTime));
        return new ComparisonMerge(comparison, report, [.. shards.OrderBy(s => s.File.Result.Shard.Index).Select(s => s.Path)]);
    }

    /// <summary>The properties of two comparison files' JSON that differ ("seed", "stacks").</summary>
    private static IEnumerable<string> Differences(string a, string b)
    {
        var left = JsonNode.Parse(a)!.AsObject();
        var right = JsonNode.Parse(b)!.AsObject();
        return left.Select(p => p.Key).Union(right.Select(p => p.Key)).Where(key => !JsonNode.DeepEquals(left[key], right[key]));
    }
}
