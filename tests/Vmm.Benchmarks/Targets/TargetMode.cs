using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Vmm.Benchmarks.Targets;

/// <summary>
/// `--targets`: measures every row of issue 12's table that can be measured and writes targets.json.
/// Timed rows run the existing benchmark classes in one BenchmarkDotNet run (ShortRun, each target beside
/// its baseline); footprint rows are byte counts of a simulation; rss-64t is a child process's peak RSS; compare-default
/// times the built `vmm compare` as a child process.
/// `--targets-quick` uses the Dry job in process and smaller guests: it checks the mode, its numbers mean nothing.
/// </summary>
public static class TargetMode
{
    public static readonly IReadOnlyList<string> RowIds =
        ["guest-random", "guest-seq", "tdxli-random", "mac-sha3", "mac-aes", "convert", "meta-touched", "pt-dense", "rss-64t", "untouched", "full-4t", "compare-default", "alloc"];

    /// <summary>The benchmark classes the timed rows and the alloc row read.</summary>
    public static readonly IReadOnlyList<Type> TimedBenchmarks =
        [typeof(GuestLoadBenchmarks), typeof(TdxLiReadBenchmarks), typeof(MacBenchmarks), typeof(ConversionBenchmarks), typeof(GuestAccessBenchmarks), typeof(GuestVcpuBenchmarks), typeof(ControllerBenchmarks)];

    public const string FileName = "targets.json";

    public static int Run(TextWriter output, bool quick, string directory, string? artifactsPath = null)
    {
        var rows = Measure(output, quick, artifactsPath);
        output.WriteLine();
        output.WriteLine(quick
            ? "Job: BenchmarkDotNet Dry (one iteration, in process) and scaled-down guests: --targets-quick checks the mode, its numbers are not measurements."
            : "Job: BenchmarkDotNet ShortRun (3 warm-ups, 3 iterations), each target beside its baseline in the same run.");
        output.Write(TargetReport.Table(rows));
        var path = Path.Combine(directory, FileName);
        File.WriteAllText(path, TargetReport.ToJson(rows));
        output.WriteLine($"wrote {path}");
        return 0;
    }

    public static IReadOnlyList<TargetRow> Measure(TextWriter output, bool quick, string? artifactsPath = null)
    {
        var scale = quick ? Scale.Quick : Scale.Full;
        var previousTouched = GuestLoadBenchmarks.TouchedMiBForRuns;
        GuestLoadBenchmarks.TouchedMiBForRuns = scale.GuestTouchedMiB;
        var previousDirectory = Environment.CurrentDirectory;
        artifactsPath ??= Path.Combine(previousDirectory, "BenchmarkDotNet.Artifacts");
        Summary[] summaries;
        try
        {
            // BenchmarkDotNet finds the project to build from the current folder, so that --targets runs from any folder
            if (!quick && SolutionDirectory() is { } solution) Environment.CurrentDirectory = solution;
            summaries = BenchmarkRunner.Run([.. TimedBenchmarks], Config(quick, artifactsPath));
        }
        finally
        {
            Environment.CurrentDirectory = previousDirectory;
            GuestLoadBenchmarks.TouchedMiBForRuns = previousTouched;
        }
        var job = quick ? "Dry (in process)" : "ShortRun";
        var results = new BenchmarkResults(summaries);
        var footprint = quick ? "footprint (scaled down)" : "footprint";
        output.WriteLine("measuring footprints");
        TargetRow[] rows =
        [
            GuestRandom(results, job, scale),
            Rate("guest-seq", "guest 8-byte loads, sequential within pages", 100, "M loads/s",
                results.Mean(typeof(GuestLoadBenchmarks), nameof(GuestLoadBenchmarks.GuestLoad), (nameof(GuestLoadBenchmarks.Order), LoadOrder.SequentialWithinPages)), job,
                $"64 GiB guest, {scale.GuestTouchedMiB} MiB touched; touched pages in random order, all 512 words of each in turn"),
            Ratio("tdxli-random", "tdx-li 8-byte TD-private loads at random, over a flat byte[]", 4,
                results.Mean(typeof(TdxLiReadBenchmarks), nameof(TdxLiReadBenchmarks.TdxLiRead)),
                results.Mean(typeof(TdxLiReadBenchmarks), nameof(TdxLiReadBenchmarks.FlatArray)), job,
                "at the controller (TdxLiReadBenchmarks: 64 MiB of accepted frames), not through a TD's EPT"),
            Rate("mac-sha3", "exact SHA-3 (KMAC128) MAC per 64-byte line, one core", 1, "M lines/s",
                results.Mean(typeof(MacBenchmarks), nameof(MacBenchmarks.Sha3Managed)), job, "managed Sha3LineMac; its OpenSSL baseline ran in the same run"),
            Rate("mac-aes", "fast AES-NI MAC per 64-byte line, one core", 50, "M lines/s",
                results.Mean(typeof(MacBenchmarks), nameof(MacBenchmarks.AesLineMacAesNi)), job, "AesLineMac with AES-NI; the raw AES-NI loop baseline ran in the same run"),
            Convert(results, job),
            MetaTouched(footprint),
            PageTablesDense(scale, footprint),
            RssProbe.Row(scale.RssTouchedMiB, quick ? "child process (scaled down)" : "child process"),
            Untouched(footprint),
            FullMappingProbe.Row(scale.FullMappedMiB, footprint),
            CompareProbe.Row(SolutionDirectory(), quick),
            Alloc(results, job),
        ];
        return [.. rows.Select(WithReason)];
    }

    /// <summary>A timed row whose benchmark did not run says so, instead of a bare null.</summary>
    private static TargetRow WithReason(TargetRow row)
        => row.Checks.Any(check => check.Measured is null) && row.Note?.Contains("not measured", StringComparison.Ordinal) != true
            ? row with { Note = $"{row.Note}; not measured: its benchmark did not run (BenchmarkDotNet's output above says why)" }
            : row;

    /// <summary>The folder holding Vmm.sln above this assembly, where BenchmarkDotNet looks for Vmm.Benchmarks.csproj.</summary>
    private static string? SolutionDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Vmm.sln"))) return directory.FullName;
        return null;
    }

    private static ManualConfig Config(bool quick, string artifactsPath)
    {
        var config = DefaultConfig.Instance
            .AddJob(quick ? Job.Dry.WithToolchain(InProcessEmitToolchain.Instance) : Job.ShortRun)
            .AddFilter(new SimpleFilter(OneMapping))
            .WithOptions(ConfigOptions.DisableLogFile)
            .WithArtifactsPath(artifactsPath);
        return quick ? config.WithOptions(ConfigOptions.DisableOptimizationsValidator) : config; // the test suite runs it from a Debug build
    }

    /// <summary>The convert row is one VMM mapping; the 2- and 8-mapping cases would only lengthen the run.</summary>
    private static bool OneMapping(BenchmarkCase benchmarkCase)
        => benchmarkCase.Descriptor.Type != typeof(ConversionBenchmarks) || Equals(benchmarkCase.Parameters[nameof(ConversionBenchmarks.Mappings)], 1);

    private static TargetRow GuestRandom(BenchmarkResults results, string job, Scale scale)
    {
        var order = (nameof(GuestLoadBenchmarks.Order), (object)LoadOrder.Random);
        var guest = results.Mean(typeof(GuestLoadBenchmarks), nameof(GuestLoadBenchmarks.GuestLoad), order);
        var flat = results.Mean(typeof(GuestLoadBenchmarks), nameof(GuestLoadBenchmarks.FlatArray), order);
        return new TargetRow("guest-random",
            new TargetCheck("guest 8-byte loads at random, memory plain", 25, Bound.AtLeast, "M loads/s", PerSecondMillions(guest)),
            job,
            $"64 GiB guest, {scale.GuestTouchedMiB} MiB touched at random pages; baseline: a flat byte[] of the touched size with the same index sequence",
            [new TargetCheck("the same over the flat byte[]", 3, Bound.AtMost, "x flat", Divide(guest, flat))]);
    }

    private static TargetRow Convert(BenchmarkResults results, string job)
    {
        var small = results.Mean(typeof(ConversionBenchmarks), nameof(ConversionBenchmarks.PrivateSharedPrivateCycle),
            (nameof(ConversionBenchmarks.Mappings), 1), (nameof(ConversionBenchmarks.GuestGiB), 1));
        var large = results.Mean(typeof(ConversionBenchmarks), nameof(ConversionBenchmarks.PrivateSharedPrivateCycle),
            (nameof(ConversionBenchmarks.Mappings), 1), (nameof(ConversionBenchmarks.GuestGiB), 128));
        return new TargetRow("convert",
            new TargetCheck("4K private-shared-private cycle under hwpoison-v2, one VMM mapping, 1 GiB guest", 10, Bound.AtLeast, "M conversions/s", PerSecondMillions(small)),
            job,
            "one full cycle (share, VMM touch, private again, re-poisoning guest read) counts as one conversion; \"equal\" is read as within 10 %, and the large guest is 128 GiB, the largest ConversionBenchmarks has",
            [new TargetCheck("the same in a 128 GiB guest over the 1 GiB guest", 1.1, Bound.AtMost, "x 1 GiB", Divide(large, small))]);
    }

    private static TargetRow MetaTouched(string job)
    {
        const int pages = 4096;
        var simulation = BenchMachine.Create(1UL << 30);
        var before = MachineFootprint.Of(simulation);
        BenchMachine.TouchSpread(simulation, pages);
        var after = MachineFootprint.Of(simulation);
        var perFrame = (after.FrameBytes - before.FrameBytes - (double)pages * Vmm.Abstractions.PageGeometry.PageSize) / pages;
        return new TargetRow("meta-touched", new TargetCheck("frame metadata per touched 4 KiB frame, memory plain", 16, Bound.AtMost, "B", perFrame), job,
            $"growth of Simulation.FootprintBytes (contents, per-frame metadata, rmap) over {pages} pages touched by the guest, every 64th page of a 1 GiB guest, less 4 KiB of contents each; page tables apart");
    }

    private static TargetRow PageTablesDense(Scale scale, string job)
    {
        var bytes = (ulong)scale.DenseMiB << 20;
        var simulation = BenchMachine.Create(bytes);
        var pages = (int)(bytes / Vmm.Abstractions.PageGeometry.PageSize);
        BenchMachine.TouchSpread(simulation, pages);
        var footprint = MachineFootprint.Of(simulation);
        var worst = Math.Max(footprint.VmmTableBytes, footprint.EptTableBytes) / (double)pages;
        return new TargetRow("pt-dense", new TargetCheck("page-table bytes per mapped 4 KiB page, dense, per table", 8.1, Bound.AtMost, "B", worst), job,
            string.Create(CultureInfo.InvariantCulture,
                $"every page of a {scale.DenseMiB} MiB guest touched; the larger of the VMM's table ({footprint.VmmTableBytes / (double)pages:0.###} B) and the EPT ({footprint.EptTableBytes / (double)pages:0.###} B)"));
    }

    private static TargetRow Untouched(string job)
    {
        var simulation = BenchMachine.Create(1UL << 40);
        var footprint = MachineFootprint.Of(simulation);
        return new TargetRow("untouched", new TargetCheck("bytes per untouched frame", 0.25, Bound.AtMost, "B", footprint.FrameBytes / (double)footprint.HostFrames), job,
            "Simulation.FootprintBytes right after declaring a 1 TiB guest, over its host frames");
    }

    private static TargetRow Alloc(BenchmarkResults results, string job)
    {
        var allocations = results.AllocatedPerOperation().ToList();
        var worst = allocations.Count == 0 ? (double?)null : allocations.Max(entry => entry.Bytes);
        var allocating = allocations.Where(entry => entry.Bytes > 0).Select(entry => $"{entry.Name} {entry.Bytes} B").ToList();
        var note = $"the most any of {allocations.Count} hot-path benchmark cases ({string.Join(", ", TimedBenchmarks.Select(type => type.Name))}) allocated per operation (MemoryDiagnoser)"
            + (allocating.Count == 0 ? "" : "; allocating: " + string.Join("; ", allocating));
        return new TargetRow("alloc", new TargetCheck("bytes allocated per hot-path operation", 0, Bound.AtMost, "B/op", worst), job, note);
    }

    private static TargetRow Rate(string id, string what, double target, string unit, double? meanNs, string job, string note)
        => new(id, new TargetCheck(what, target, Bound.AtLeast, unit, PerSecondMillions(meanNs)), job, note);

    private static TargetRow Ratio(string id, string what, double target, double? meanNs, double? baselineNs, string job, string note)
        => new(id, new TargetCheck(what, target, Bound.AtMost, "x flat", Divide(meanNs, baselineNs)), job, note);

    private static double? PerSecondMillions(double? meanNs) => meanNs is > 0 ? 1e3 / meanNs : null;

    private static double? Divide(double? numerator, double? denominator) => numerator is { } n && denominator is > 0 ? n / denominator : null;

    /// <summary>Sizes of the rows that build large guests: the issue's in a real run, small ones in the quick mode.</summary>
    internal sealed record Scale(int GuestTouchedMiB, int DenseMiB, int RssTouchedMiB)
    {
        public static readonly Scale Full = new(1024, 1024, 1024) { FullMappedMiB = 4096 };
        public static readonly Scale Quick = new(16, 64, 16);

        /// <summary>The guest full-4t maps whole and scales to 4 TiB.</summary>
        public int FullMappedMiB { get; init; } = 64;
    }
}
