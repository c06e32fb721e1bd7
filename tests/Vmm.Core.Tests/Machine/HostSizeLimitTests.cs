using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Paging;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.None;
using Vmm.Plugins.Baseline.Plain;

namespace Vmm.Core.Tests.Machine;

/// <summary>Hosts up to 64 TiB (2^34 frames) work and cost nothing until touched; anything larger is refused clearly.</summary>
public class HostSizeLimitTests
{
    private const ulong TiB = 1UL << 40;
    private const ulong MiB = TestMachine.MiB;

    private static Simulation Simulate(ulong? hostMemory, params VmSpec[] vms)
    {
        var contents = new PhysicalMemory();
        var ledger = new CostLedger();
        return new(new Scenario { File = "limits.json", Name = "limits", HostMemory = hostMemory, Vms = [.. vms] },
            new SimulationComponents(new PlainMemoryController(contents, ledger), new NonePolicy(), new LinuxFaultDelivery(), new RadixPageTableFactory(), null, new KernelOptions(), new CostOptions())
            {
                Contents = contents,
                Ledger = ledger,
            });
    }

    [Fact]
    public void Host_Of64TiB_AllocatesAlmostNothingUntilTouched()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();

        var simulation = Simulate(64 * TiB, TestMachine.Vm("vm0", 4 * MiB));

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1L << 34, simulation.Kernel.Mm.Frames.Count);
        Assert.True(allocated < 4 * (long)MiB, $"constructing a 64 TiB host allocated {allocated} bytes");
        Assert.True(simulation.FootprintBytes < (long)MiB, $"footprint {simulation.FootprintBytes} bytes");
    }

    [Fact]
    public void Host_Of64TiB_TouchesItsLastFrame()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm("vm0", 4 * MiB, BackingKind.Hugetlb)], Headroom = 64 * TiB - 4 * MiB });

        Expect.Ok(m.HostWrite(4 * MiB - 8, 0x5a, 8)); // the first huge page comes from the top of memory

        Assert.Equal(new Pfn((1UL << 34) - 1), m.FrameOf(4 * MiB - 8));
        Assert.Equal(TestMachine.Bytes(0x5a, 8), Expect.Data(m.HostRead(4 * MiB - 8, 8)));
    }

    [Fact]
    public void Hugetlb_OnA32TiBHost_KeepsItsPagesAbove2Pow32InThePageCache()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm("vm0", 4 * MiB, BackingKind.Hugetlb)], Headroom = 32 * TiB - 4 * MiB });
        var top = (1UL << 33) - (ulong)PageGeometry.PagesPerHuge; // huge pages come from the top: above what a uint holds

        Expect.Ok(m.HostWrite(0x1000, 0x11, 8));
        Expect.Ok(m.GuestWrite(2 * MiB + 0x2000, TestMachine.Bytes(0x22, 8)));

        Assert.Equal(new Pfn(top + 1), m.FrameOf(0x1000));
        Assert.Equal(new Pfn(top - (ulong)PageGeometry.PagesPerHuge + 2), m.FrameOf(2 * MiB + 0x2000));
        Assert.Equal(TestMachine.Bytes(0x11, 8), Expect.Data(m.Pread(0x1000, 8)));
        Assert.Equal(TestMachine.Bytes(0x22, 8), Expect.Data(m.Pread(2 * MiB + 0x2000, 8)));
        Expect.Ok(m.Run("vm.destroy")); // truncation puts each cached head once: no refcount bug
        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames);
    }

    [Theory]
    [InlineData(64 * TiB + 4096)]
    [InlineData(16384 * TiB)]
    [InlineData(ulong.MaxValue)]
    public void Host_Over64TiB_IsAScenarioErrorNamingTheLimit(ulong host)
    {
        var e = Assert.Throws<ScenarioException>(() => Simulate(host, TestMachine.Vm("vm0", 4 * MiB)));

        Assert.Contains("64T", e.Message);
        Assert.Contains("host.memory", e.Message);
    }

    [Fact]
    public void VmSizes_WhoseSumWraps_AreAScenarioErrorNotAnOverflow()
    {
        var e = Assert.Throws<ScenarioException>(() => Simulate(null, TestMachine.Vm("a", 1UL << 63), TestMachine.Vm("b", 1UL << 63)));

        Assert.Contains("64T", e.Message);
    }

    [Fact]
    public void AVm_PastTheEndOfUserSpace_IsMappedTopDownBelowTheBase()
    {
        var simulation = Simulate(4 * TiB, TestMachine.Vm("a", 1 * TiB - (1UL << 30)), TestMachine.Vm("b", 2UL << 30));

        Assert.Equal(0x7f00_0000_0000UL - (2UL << 30), simulation.Kernel.Kvm.VmList[1].Info.HvaBase.Value);
        Assert.Equal(0x7f00_0000_0000UL - (2UL << 30), simulation.Kernel.Vmm.MmapLowCursor);
    }

    [Fact]
    public void Vms_FillingUserSpaceExactly_AreAccepted()
    {
        var simulation = Simulate(2 * TiB, TestMachine.Vm("a", TiB / 2), TestMachine.Vm("b", TiB / 2));

        Assert.Equal(0x8000_0000_0000UL, simulation.Kernel.Vmm.MmapCursor);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData((1L << 34) + 1)]
    [InlineData(long.MaxValue)]
    [InlineData(-1L)]
    public void FrameTable_OutsideOneTo2Pow34Frames_IsArgumentOutOfRange(long frames)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new FrameTable(frames));

        Assert.Contains("64 TiB", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PhysicalMemory(frames));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4095UL)]
    [InlineData(128UL << 40)] // room neither above the base nor below it
    [InlineData(ulong.MaxValue)]
    public void CreateVm_ThatIsEmptyUnalignedOrPastUserSpace_IsArgumentOutOfRangeAndChangesNothing(ulong memory)
    {
        var m = TestMachine.Create();
        var cursor = m.VmmProcess.MmapCursor;

        Assert.Throws<ArgumentOutOfRangeException>(() => m.Kernel.Kvm.CreateVm("big", memory, isProtected: false, BackingKind.Shmem, thp: false));

        Assert.Equal(cursor, m.VmmProcess.MmapCursor);
        Assert.Equal(Process.MmapBase, m.VmmProcess.MmapLowCursor);
        Assert.Single(m.Kernel.Kvm.VmList);
    }

    [Fact]
    public void FrameAllocator_OnA64TiBHost_HandsOutHugePagesFromTheTop()
    {
        var allocator = new FrameAllocator(new FrameTable(1L << 34));

        var head = allocator.AllocateHuge();

        Assert.Equal(new Pfn((1UL << 34) - (ulong)PageGeometry.PagesPerHuge), head);
        Assert.Equal(new Pfn(1), allocator.Allocate());
    }
}
