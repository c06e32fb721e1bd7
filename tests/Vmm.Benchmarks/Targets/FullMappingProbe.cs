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
        var pages = (int)(bytes / PageGeometry.PageSize);
        var simulation = BenchMachine.Create(bytes, contentsFree: true);
        BenchMachine.TouchSpread(simulation, pages);
        var kernel = simulation.Kernel;
        var vmm = ((RadixPageTable)kernel.Vmm.PageTable).StorageBytes;
        var ept = ((RadixPageTable)kernel.Kvm.VmList[0].Ept).StorageBytes;
        var frames = simulation.FootprintBytes;
        var scale = GuestTiB * (1L << 40) / bytes;
        var measured = (frames + vmm + ept) * scale / (1L << 30);
        var note = string.Create(CultureInfo.InvariantCulture,
            $"footprint byte count, not a run at 4 TiB: every 4 KiB page of a {guestMiB} MiB guest written by its vCPU (memory plain, memory.contents none, 4 KiB leaves in the VMM and the EPT), "
            + $"Simulation.FootprintBytes (frame table, rmap, written bits: {frames / (double)pages:0.##} B per page) plus both page tables' storage ({vmm / (double)pages:0.##} + {ept / (double)pages:0.##} B per page), "
            + $"times {scale:0} for 4 TiB; the frame metadata alone is over the target, so 4 TiB needs smaller frame metadata or 2 MiB frames");
        return new TargetRow("full-4t", new TargetCheck("4 TiB guest fully mapped, VMM and EPT, contents-free", 24, Bound.AtMost, "GiB", measured), job, note);
    }
}
