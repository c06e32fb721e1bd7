using System.Diagnostics;
using System.Globalization;
using Vmm.Abstractions;

namespace Vmm.Benchmarks.Targets;

/// <summary>
/// The rss-64t row: a child process declares a 64 TiB guest, lets the guest touch pages at random, and
/// prints its own peak RSS (VmHWM), so that nothing the parent ran before counts.
/// </summary>
internal static class RssProbe
{
    public const string Flag = "--rss-probe";
    private const ulong GuestBytes = 64UL << 40;
    private const double MiB = 1 << 20;

    public static TargetRow Row(int touchedMiB, string job)
    {
        var what = "peak RSS, 64 TiB guest declared, touched at random by the guest";
        var note = $"VmHWM of a child process that declares the guest on a 64 TiB host and writes 8 bytes to each of {touchedMiB} MiB of random pages";
        var (peak, failure, detail) = RunChild(touchedMiB * 256);
        var measured = peak is { } bytes ? bytes / (double)(1L << 30) : (double?)null;
        return new TargetRow("rss-64t", new TargetCheck(what, 2, Bound.AtMost, "GiB", measured), job, failure is null ? $"{note}; at the end: {detail}" : $"{note}; not measured: {failure}");
    }

    /// <summary>The child's side (`--rss-probe pages [guest GiB]`): prints VmHWM in bytes.</summary>
    public static int Measure(string[] args, TextWriter output)
    {
        var at = Array.IndexOf(args, Flag);
        var pages = int.Parse(args[at + 1], CultureInfo.InvariantCulture);
        var guestBytes = args.Length > at + 2 ? ulong.Parse(args[at + 2], CultureInfo.InvariantCulture) << 30 : GuestBytes; // a smaller guest in GiB, to try the probe by hand
        Vmm.Core.Engine.Simulation simulation;
        try
        {
            simulation = BenchMachine.Create(guestBytes, hostBytes: guestBytes); // 64 TiB is the largest host, so no headroom
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"the simulator does not declare the guest: {e.Message}");
            return 2;
        }
        var guest = GuestPort.Of(simulation);
        var random = new Random(42);
        var touched = new HashSet<ulong>();
        Span<byte> data = stackalloc byte[8];
        while (touched.Count < pages)
        {
            var page = (ulong)random.NextInt64((long)(guestBytes / PageGeometry.PageSize));
            if (!touched.Add(page)) continue;
            BitConverter.TryWriteBytes(data, page);
            guest.Write(page * PageGeometry.PageSize, data);
        }
        var heap = GC.GetGCMemoryInfo();
        var kernel = simulation.Kernel;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"contents+metadata {simulation.FootprintBytes / MiB:0} MiB, VMM page table {((Vmm.Core.Paging.RadixPageTable)kernel.Vmm.PageTable).StorageBytes / MiB:0} MiB, EPT {((Vmm.Core.Paging.RadixPageTable)kernel.Kvm.VmList[0].Ept).StorageBytes / MiB:0} MiB, GC heap {heap.HeapSizeBytes / MiB:0} MiB (committed {heap.TotalCommittedBytes / MiB:0} MiB)"));
        GC.KeepAlive(simulation);
        var line = File.ReadLines("/proc/self/status").First(line => line.StartsWith("VmHWM:", StringComparison.Ordinal));
        var kib = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        output.WriteLine((kib * 1024).ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    private static (long? Peak, string? Failure, string? Detail) RunChild(int pages)
    {
        if (!File.Exists("/proc/self/status")) return (null, "no /proc/self/status on this system", null);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "exec", typeof(RssProbe).Assembly.Location, Flag, pages.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(argument);
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the rss-64t child process");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEnd();
        child.WaitForExit();
        var text = stdout.Result.Trim();
        if (child.ExitCode != 0 || !long.TryParse(text.Split('\n')[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var peak))
            return (null, child.ExitCode == 2 ? stderr.Trim() : $"the child process exited with {child.ExitCode}: {stderr.Trim()}", null);
        return (peak, null, stderr.Trim());
    }

    /// <summary>The dotnet host that runs this process, or the one on PATH when this is an apphost or a test host.</summary>
    internal static string DotnetHost()
    {
        var path = Environment.ProcessPath;
        if (path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet") return path;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
