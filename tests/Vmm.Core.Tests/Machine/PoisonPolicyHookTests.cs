using Moq;
using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>When the kernel calls the policy hooks, and with what.</summary>
public class PoisonPolicyHookTests
{
    private const ulong Gpa = 0x7000;

    /// <summary>The policy's mocked roles, each a loose mock answering like the unmodified kernel (Moq does not run default interface methods).</summary>
    private sealed record Roles(
        Mock<IPrivateMemoryPolicy> Policy,
        Mock<IGuestFaultPolicy> GuestFault,
        Mock<IHwPoisonEntryPolicy> HwPoisonEntry,
        Mock<IVmmMappingPolicy> VmmMapping,
        Mock<IFrameLifecyclePolicy> Lifecycle)
    {
        public void VerifyNoOtherCalls()
        {
            GuestFault.VerifyNoOtherCalls();
            HwPoisonEntry.VerifyNoOtherCalls();
            VmmMapping.VerifyNoOtherCalls();
            Lifecycle.VerifyNoOtherCalls();
        }
    }

    private static (TestMachine M, Roles Policy) WithMockPolicy()
    {
        var policy = new Mock<IPrivateMemoryPolicy>();
        var guestFault = policy.As<IGuestFaultPolicy>();
        var hwPoisonEntry = policy.As<IHwPoisonEntryPolicy>();
        var vmmMapping = policy.As<IVmmMappingPolicy>();
        var lifecycle = policy.As<IFrameLifecyclePolicy>();
        guestFault.Setup(p => p.KvmGupFlags(It.IsAny<KvmAccess>())).Returns(GupFlags.HwPoison);
        guestFault.Setup(p => p.OnGuestFault(It.IsAny<GuestFault>())).Returns(GuestFaultAction.Map);
        vmmMapping.Setup(p => p.MapMemslot(It.IsAny<VmmMapping>())).Returns(VmmProtection.ReadWrite);
        lifecycle.Setup(p => p.OnFree(It.IsAny<FreedFrame>())).Returns(FreeAction.Default);
        var m = TestMachine.Create(new MachineSetup { Policy = policy.Object });
        return (m, new Roles(policy, guestFault, hwPoisonEntry, vmmMapping, lifecycle));
    }

    [Fact]
    public void Creation_AsksHowToMapTheVmsMemslot()
    {
        var (_, policy) = WithMockPolicy();

        policy.VmmMapping.Verify(p => p.MapMemslot(It.Is<VmmMapping>(v => v.Vm.Name == TestMachine.DefaultVm && v.Vm.Backing == BackingKind.Anon)), Times.Once);
        policy.VerifyNoOtherCalls();
    }

    [Fact]
    public void Creation_WithProtNone_MapsTheMemslotProtNone()
    {
        var policy = new Mock<IPrivateMemoryPolicy>();
        policy.As<IVmmMappingPolicy>().Setup(p => p.MapMemslot(It.IsAny<VmmMapping>())).Returns(VmmProtection.ProtNone);

        var m = TestMachine.Create(new MachineSetup { Policy = policy.Object });

        Assert.True(m.VmNamed().Vma.ProtNone);
    }

    [Fact]
    public void GuestAccess_CallsOnGuestFaultOnceWithTheGfnAndFrame_NotAgainOnEptHit()
    {
        var (m, policy) = WithMockPolicy();

        Expect.Ok(m.GuestWrite(Gpa + 0x10, [1, 2, 3, 4]));
        var pfn = m.FrameOf(Gpa);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa + 0x10, 4)));
        Expect.Ok(m.GuestWrite(Gpa, [5]));

        policy.GuestFault.Verify(p => p.OnGuestFault(It.Is<GuestFault>(f =>
            f.Vm.Name == TestMachine.DefaultVm && f.Gfn == new Gfn(Gpa >> 12) && f.Pfn == pfn && !f.Private)), Times.Once);
        policy.GuestFault.Verify(p => p.KvmGupFlags(It.IsAny<KvmAccess>()), Times.Once);
        policy.VmmMapping.Verify(p => p.MapMemslot(It.IsAny<VmmMapping>()), Times.Once);
        policy.VerifyNoOtherCalls();
    }

    [Fact]
    public void KvmCopy_AsksTheKvmFlagsAndThePageCheck_AndFailsWithEfaultWhenRefused()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 0x5A));
        var pfn = m.FrameOf(Gpa);
        policy.GuestFault.Setup(p => p.KvmPageAllowed(It.IsAny<KvmPage>())).Returns(false);

        Expect.Error(Errno.EFAULT, m.Run("kernel.read", gpa: Gpa, len: 8, requester: "kvm"));

        policy.GuestFault.Verify(p => p.KvmGupFlags(It.Is<KvmAccess>(a => a.Vm.Name == TestMachine.DefaultVm)), Times.Once);
        policy.GuestFault.Verify(p => p.KvmPageAllowed(new KvmPage(m.VmNamed().Info, pfn)), Times.Once);
    }

    [Fact]
    public void GuestAccess_ToSecondPage_CallsOnGuestFaultForThatGfn()
    {
        var (m, policy) = WithMockPolicy();

        Expect.Ok(m.GuestWrite(Gpa, [1]));
        Expect.Ok(m.GuestWrite(Gpa + TestMachine.Page, [2]));

        policy.GuestFault.Verify(p => p.OnGuestFault(It.Is<GuestFault>(f => f.Gfn == new Gfn(Gpa >> 12) && !f.Private)), Times.Once);
        policy.GuestFault.Verify(p => p.OnGuestFault(It.Is<GuestFault>(f => f.Gfn == new Gfn((Gpa >> 12) + 1) && !f.Private)), Times.Once);
    }

    [Fact]
    public void GuestFault_WhenPolicyAsksForHwPoisonSignal_VmmGetsSigbusArAndNoEptEntry()
    {
        var (m, policy) = WithMockPolicy();
        policy.GuestFault.Setup(p => p.OnGuestFault(It.IsAny<GuestFault>())).Returns(GuestFaultAction.HwPoisonSignal);

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

        policy.Lifecycle.Verify(p => p.OnFree(new FreedFrame(pfn)), Times.Once);
        policy.Lifecycle.Verify(p => p.OnFree(It.IsAny<FreedFrame>()), Times.Once);
        Assert.True(m.Kernel.Mm.Allocator.IsFree(pfn));
    }

    [Fact]
    public void OnFree_ClearPoisonAndFree_ReturnsAPoisonedFrameToTheAllocator()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);
        m.Kernel.Mm.SetFlags(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison);
        policy.Lifecycle.Setup(p => p.OnFree(new FreedFrame(pfn))).Returns(FreeAction.ClearPoisonAndFree);

        Expect.Ok(m.Run("vm.destroy"));

        Assert.True(m.Kernel.Mm.Allocator.IsFree(pfn));
        Assert.False(m.Kernel.Mm.Frames.Has(pfn, FrameFlags.HwPoison | FrameFlags.PolicyPoison | FrameFlags.Offlined));
        Assert.Equal(pfn, m.Kernel.Mm.AllocateFrame());
    }

    [Fact]
    public void MemoryError_CallsOnMemoryFailureWithTheFrameAndActionRequired()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);

        m.MemoryError(Gpa, consumed: true);

        policy.Lifecycle.Verify(p => p.OnMemoryFailure(new FailedFrame(pfn, true)), Times.Once);
    }

    [Fact]
    public void HostRead_OfHwPoisonEntry_AsksOnHwPoisonEntryWithThePageAlignedHva()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 1));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.MemoryError(Gpa));

        Expect.SigBus(SigBusCode.BUS_MCEERR_AR, 12, m.HostRead(Gpa + 0x123));

        policy.HwPoisonEntry.Verify(p => p.OnHwPoisonEntry(new HwPoisonEntry(m.VmmProcess.Pid, new Hva(m.HvaOf(Gpa)), pfn, GupFlags.None)), Times.Once);
    }

    [Fact]
    public void HwPoisonEntry_WhenPolicySaysRebuild_MapsTheFrameAgainWithoutSignal()
    {
        var (m, policy) = WithMockPolicy();
        Expect.Ok(m.HostWrite(Gpa, 0x3C, len: 8));
        var pfn = m.FrameOf(Gpa);
        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "HWPOISON"));
        m.Kernel.Mm.ClearFlags(pfn, FrameFlags.HwPoison);
        policy.HwPoisonEntry.Setup(p => p.OnHwPoisonEntry(It.Is<HwPoisonEntry>(e => e.Pfn == pfn))).Returns(HwPoisonEntryAction.Rebuild);

        var data = Expect.Data(m.HostRead(Gpa, 8));

        Assert.Equal(TestMachine.Bytes(0x3C, 8), data);
        Assert.Equal(PteValue.Leaf(pfn, writable: false), m.VmmPte(Gpa)); // anon is MAP_PRIVATE: a write goes through do_wp_page
        Assert.Equal(1, m.Kernel.Mm.MapCount(pfn));
    }
}
