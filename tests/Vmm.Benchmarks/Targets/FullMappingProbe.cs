using System.Globalization;
using Vmm.Abstractions;
using Vmm.Core.Paging;

namespace Vmm.Benchmarks.Targets;

/// <summary>
/// The full-4t row: a byte count of a guest every page of which the VMM and the EPT map, in a contents-free run,
/// scaled to 4 TiB. A run at 4 TiB itself (2^30 frames) does not fit this shared machine beside the other work.
/// </summary>
internal static class FullMappingProbe
{
    private const double GuestTiB = 4;

    /// <summary>`--full-4t [guest MiB]` prints the full-4t row alone (default 4096 MiB, the size --targets maps), without the timed rows.</summary>
    public const string Flag = "--full-4t";

    public static int Print(string[] args, TextWriter output)
    {
        var at = Array.IndexOf(args, Flag);
        var guestMiB = args.Length > at + 1 ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : 4096;
        output.Write(TargetReport.Table([Row(guestMiB, "footprint")]));
        return 0;
    }

    public static TargetRow Row(int guestMiB, string job)
    {
        var bytes = (ulong)guestMiB << 20;
        var scale = GuestTiB * (1L << 40) / bytes;
        var small = Measure(bytes, BackingKind.Anon);
        var huge = Measure(bytes, BackingKind.Hugetlb);
        var note = FormattableString.Invariant($"footprint byte count, not a run at 4 TiB: every 4 KiB page of a {guestMiB} MiB guest written by its vCPU (memory plain, memory.contents none, anon backing, 4 KiB leaves in the VMM and the EPT), ")
            + FormattableString.Invariant($"Simulation.FootprintBytes (frame table, rmap, written bits: {small.PerPage(small.Frames):0.##} B per page) plus both page tables' storage ({small.PerPage(small.Vmm):0.##} + {small.PerPage(small.Ept):0.##} B per page), times {scale:0} for 4 TiB; ")
            + "two tables of 8-byte x86 entries alone take 16 GiB at 4 TiB. "
            + FormattableString.Invariant($"With hugetlb backing the VMM's table falls to {huge.PerPage(huge.Vmm):0.###} B per page but the EPT keeps 4 KiB leaves ({huge.PerPage(huge.Ept):0.##} B) and the frame metadata grows to {huge.PerPage(huge.Frames):0.##} B (the page-cache link): {huge.Total * scale / (1L << 30):0.##} GiB");
        return new TargetRow("full-4t", new TargetCheck("4 TiB guest fully mapped, VMM and EPT, contents-free", 24, Bound.AtMost, "GiB", small.Total * scale / (1L << 30)), job, note);
    }

    private static Footprint Measure(ulong bytes, BackingKind backing)
    {
        var simulation = BenchMachine.Create(bytes, contentsFree: true, backing: backing);
        var pages = (int)(bytes / PageGeometry.PageSize);
        BenchMachine.TouchSpread(simulation, pages);
        var kernel = simulation.Kernel;
        return new Footprint(pages, simulation.FootprintBytes, ((RadixPageTable)kernel.Vmm.PageTable).StorageBytes, ((RadixPageTable)kernel.Kvm.VmList[0].Ept).StorageBytes);
    }

    private readonly record struct Footprint(int Pages, long Frames, long Vmm, long Ept)
    {
        public long Total => Frames + Vmm + Ept;

        public double PerPage(long bytes) => bytes / (double)Pages;
    }
}
