using Vmm.Abstractions;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Machine;

/// <summary>Line metadata exists only for frames a TD touched, however large the TD.</summary>
public sealed class SparseMetadataTests
{
    [Fact]
    public void TdTouching100PagesOf1TiB_TracksExactly100Frames_AndNoneAfterTeardown()
    {
        const ulong size = 1UL << 40;
        TdxCiMemoryController memory = null!;
        var simulation = TdMachine.Create((contents, ledger) => memory = new TdxCiMemoryController(new TdxOptions(), contents, ledger), new LinuxFaultDelivery(), size, BackingKind.Anon);
        Assert.Equal(0, memory.TrackedFrames);

        const ulong stride = size / 100 & ~(ulong)(PageGeometry.PageSize - 1);
        for (var i = 0UL; i < 100; i++)
            Assert.Equal(OutcomeKind.Ok, simulation.Execute(TdMachine.GuestWrite(i * stride + 8, (byte)(i + 1))).Kind);
        Assert.Equal(OutcomeKind.Ok, simulation.Execute(TdMachine.GuestRead(99 * stride + 8, 1)).Kind);

        Assert.Equal(100, memory.TrackedFrames);

        simulation.Execute(TdMachine.Destroy());
        Assert.Equal(0, memory.TrackedFrames);
    }
}
