using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Paging;

namespace Vmm.Benchmarks;

/// <summary>
/// `--footprint`: declares VMs of growing size, touches 1000 pages spread over each, and prints what the
/// simulator and the process hold, as evidence that declared-but-untouched frames cost no per-frame objects.
/// </summary>
internal static class FootprintReport
{
    private static readonly ulong[] GuestSizes = [1UL << 30, 64UL << 30, 1UL << 40];

    public static int Run(TextWriter output)
    {
        output.WriteLine($"{RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.FrameworkDescription}, Server GC: {System.Runtime.GCSettings.IsServerGC}");
        Collect();
        output.WriteLine($"process RSS before any simulation: {Bytes(Environment.WorkingSet)}");
        output.WriteLine();
        output.WriteLine("| Guest | Host frames | Allocated: construct | FootprintBytes: construct | Bytes / untouched frame | Allocated: touch 1000 pages | FootprintBytes: touched | Page tables (mm + EPT) | Live heap | Process RSS |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in GuestSizes) output.WriteLine(Measure(size));
        output.WriteLine();
        output.WriteLine("Host frames: `host.memory` left at its default, the VM plus 256 MiB. FootprintBytes: Simulation.FootprintBytes (frame contents, per-frame metadata, rmap; page tables are listed apart).");
        output.WriteLine("Bytes / untouched frame: FootprintBytes right after construction, when every frame but the zero page is untouched, divided by host frames.");
        output.WriteLine("Allocated: GC.GetAllocatedBytesForCurrentThread across the step. Live heap: GC.GetTotalMemory(true) growth while the simulation is alive. Process RSS: Environment.WorkingSet after touching (it includes earlier rows' freed heap).");
        return 0;
    }

    /// <summary>One row; its own frame so that no earlier simulation is still reachable when the next row starts.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Measure(ulong size)
    {
        Collect();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var simulation = BenchMachine.Create(size);
        var constructAllocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var constructFootprint = simulation.FootprintBytes;
        var frames = simulation.Kernel.Mm.Frames.Count;

        allocated = GC.GetAllocatedBytesForCurrentThread();
        BenchMachine.TouchSpread(simulation, FootprintBenchmarks.TouchedPages);
        var touchAllocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var touchedFootprint = simulation.FootprintBytes;
        var kernel = simulation.Kernel;
        var tablePages = ((RadixPageTable)kernel.Vmm.PageTable).TablePages + ((RadixPageTable)kernel.Kvm.VmList[0].Ept).TablePages;
        var liveHeap = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        var rss = Environment.WorkingSet;
        GC.KeepAlive(simulation);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {Bytes((long)size)} | {frames:N0} | {Bytes(constructAllocated)} | {Bytes(constructFootprint)} | {(double)constructFootprint / frames:0.000} B | {Bytes(touchAllocated)} | {Bytes(touchedFootprint)} | {Bytes(tablePages * PageGeometry.PageSize)} | {Bytes(liveHeap)} | {Bytes(rss)} |");
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 40 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 40):0.##} TiB"),
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.##} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.##} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.##} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
