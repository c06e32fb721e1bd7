using Moq;
using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>When the kernel calls the policy hooks, and with what.</summary>
public class PoisonPolicyHookTests
{
    private const ulong Gpa = 0x7000;

    /// <summary>A loose mock answering like the unmodified kernel (Moq does not run default interface methods).</summary>
    private static (TestMachine M, Mock<IPoisonPolicy> Policy) WithMockPolicy()
    {
        var policy = new Mock<IPoisonPolicy>();
        policy.Setup(p => p.KvmGupFlags(It.IsAny<VmInfo>())).Returns(GupFlags.HwPoison);
        policy.Setup(p => p.AllowGupOfPoisonedFrame(It.IsAny<Pfn>(), It.IsAny<GupFlags>())).Returns(true);
        policy.Setup(p => p.OnGuestFault(It.IsAny<VmInfo>(), It.IsAny<Gfn>(), It.IsAny<Pfn>(), It.IsAny<bool>())).Returns(GuestFaultAction.Map);
        policy.Setup(p => p.OnFree(It.IsAny<Pfn>())).Returns(FreeAction.Default);
        var m = TestMachine.Create(new MachineSetup { Policy = policy.Object });
        return (m, policy);
    }

    [Fact]
    public void Creation_AttachesThePolicyAndAnnouncesTheVm()
    {
        var (m, policy) = WithMockPolicy();

        policy.Verify(p => p.Attach(m.Kernel), Times.Once);
        policy.Verify(p => p.MapsVmmMemoryProtNone(It.Is<VmInfo>(v => v.Name == TestMachine.DefaultVm)), Times.Once);
        policy.Verify(p => p.OnVmCreated(It.Is<VmInfo>(v => v.Name == TestMachine.DefaultVm && v.Backing == BackingKind.Anon)), Times.Once);
        policy.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestAccess_CallsOnGuestFaultOnceWithTheGfnAndFrame_NotAgainOnEptHit()
    {
        var (m, policy) = WithMockPolicy();

        Expect.Ok(m.GuestWrite(Gpa + 0x10, [1, 2, 3, 4]));
        var pfn = m.FrameOf(Gpa);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa + 0x10, 4)));
        Expect.Ok(m.GuestWrite(Gpa, [5]));

        policy.Verify(p => p.OnGuestFault(
            It.Is<VmInfo>(v => v.Name == TestMachine.DefaultVm),
            new Gfn(Gpa >> 12),
            pfn,
            false), Times.Once);
        policy.Verify(p => p.KvmGupFlags(It.IsAny<VmInfo>()), Times.Once);
        policy.Verify(p => p.Attach(It.IsAny<IHostKernel>()), Times.Once);
        policy.Verify(p => p.MapsVmmMemoryProtNone(It.IsAny<VmInfo>()), Times.Once);
        policy.Verify(p => p.OnVmCreated(It.IsAny<VmInfo>()), Times.Once);
        policy.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestAccess_ToSecondPage_CallsOnGuestFaultForThatGfn()
    {
        var (m, policy) = WithMockPolicy();

        Expect.Ok(m.GuestWrite(Gpa, [1]));
        Expect.Ok(m.GuestWrite(Gpa + TestMachine.Page, [2]));

        policy.Verify(p => p.OnGuestFault(It.IsAny<VmInfo>(), new Gfn(Gpa >> 12), It.IsAny<Pfn>(), false), Times.Once);
        policy.Verify(p => p.OnGuestFault(It.IsAny<VmInfo>(), new Gfn((Gpa >> 12) + 1), It.IsAny<Pfn>(), false), Times.Once);
    }

    [Fact]
    public void GuestFault_WhenPolicyAsksForHwPoisonSignal_VmmGetsSigbusArAndNoEptEntry()
    {
        var (m, policy) = WithMockPolicy();
        policy.Setup(p => p.OnGuestFault(It.IsAny<VmInfo>(), It.IsAny<Gfn>(), It.IsAny<Pfn>(), It.IsAny<bool>())).Returns(GuestFaultAction.HwPoisonSignal);

        var outcome = m.GuestWrite(Gpa, [1]);

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, outcome, m.HvaOf(Gpa));
        Assert.True(m.VmNamed().Ept.Lookup(Gpa, out _).IsNone);
    }

    [Fact]
    public void VmDestroy_CallsOnFreeForTheGuestsFrame()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.GuestWrite(Gpa, [1]));
        var pfn = m.FrameOf(Gpa);

        Expect.Ok(m.Run("vm.destroy"));

        policy.Verify(p => p.OnFree(pfn), Times.Once);
        policy.Verify(p => p.OnFree(It.IsAny<Pfn>()), Times.Once);
        Assert.True(m.Kernel.Allocator.IsFree(pfn));
    }

    [Fact]
    public void OnFree_ClearPoisonAndFree_ReturnsAPoisonedFrameToTheAllocator()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
        policy.Setup(p => p.OnFree(pfn)).Returns(FreeAction.ClearPoisonAndFree);

        Expect.Ok(m.Run("vm.destroy"));

        Assert.True(m.Kernel.Allocator.IsFree(pfn));
        Assert.False(m.Kernel.Frames.Has(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Offlined));
        Assert.Equal(pfn, m.Kernel.AllocateFrame());
    }

    [Fact]
    public void MemoryError_CallsOnMemoryFailureWithTheFrameAndActionRequired()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);

        m.MemoryError(Gpa, consumed: true);

        policy.Verify(p => p.OnMemoryFailure(pfn, true), Times.Once);
    }

    [Fact]
    public void HostRead_OfHwPoisonEntry_AsksOnHwPoisonEntryWithThePageAlignedHva()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.MemoryError(Gpa));

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(Gpa + 0x123));

        policy.Verify(p => p.OnHwPoisonEntry(m.VmmProcess.Pid, new Hva(m.HvaOf(Gpa)), pfn, GupFlags.None), Times.Once);
    }

    [Fact]
    public void HwPoisonEntry_WhenPolicySaysRebuild_MapsTheFrameAgainWithoutSignal()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 0x3C, len: 8));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "HWPOISON"));
        m.Kernel.ClearFlags(pfn, FrameFlags.HwPoison);
        policy.Setup(p => p.OnHwPoisonEntry(It.IsAny<int>(), It.IsAny<Hva>(), pfn, It.IsAny<GupFlags>())).Returns(HwPoisonEntryAction.Rebuild);

        var data = Expect.Data(m.HostRead(Gpa, 8));

        Assert.Equal(TestMachine.Bytes(0x3C, 8), data);
        Assert.Equal(PteValue.Leaf(pfn, writable: false), m.VmmPte(Gpa)); // anon is MAP_PRIVATE: a write goes through do_wp_page
        Assert.Equal(1, m.Kernel.MapCount(pfn));
    }
}
