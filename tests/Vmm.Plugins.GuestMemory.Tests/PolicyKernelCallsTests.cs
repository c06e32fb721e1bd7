using Moq;
using Vmm.Abstractions;
using Vmm.Plugins.GuestMemfd;
using Vmm.Plugins.GuestOnly;

namespace Vmm.Plugins.GuestMemory.Tests;

/// <summary>What guest-only and guest-memfd ask of the kernel, call by call, through strict mocks of the services they take.</summary>
public class PolicyKernelCallsTests
{
    private static readonly Pfn Frame = new(0x42);
    private static readonly VmInfo ShmemTd = Vm(BackingKind.Shmem);
    private static readonly VmInfo GmemTd = Vm(BackingKind.GuestMemfd);

    private static VmInfo Vm(BackingKind backing, bool isProtected = true)
        => new(new VmId(0), "td1", isProtected, backing, false, 8UL << 20, new Hva(0x7f00_0000_0000UL), KeyId.Shared);

    private static (GuestOnlyPolicy Policy, Mock<IFrameMetadata> Frames, Mock<IUnmapService> Unmap, Mock<IVmmMemory> Memory) GuestOnly()
    {
        var frames = new Mock<IFrameMetadata>(MockBehavior.Strict);
        var unmap = new Mock<IUnmapService>(MockBehavior.Strict);
        var memory = new Mock<IVmmMemory>(MockBehavior.Strict);
        var log = new Mock<IKernelLog>(MockBehavior.Strict);
        return (new GuestOnlyPolicy(frames.Object, unmap.Object, memory.Object, log.Object), frames, unmap, memory);
    }

    [Fact]
    public void GuestOnly_FaultInGuestVma_OnAFreshPage_SetsPageGuestThenUnmapsEveryOtherMapping()
    {
        var (policy, frames, unmap, _) = GuestOnly();
        var seq = new MockSequence();
        frames.InSequence(seq).Setup(f => f.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.PageCache);
        frames.InSequence(seq).Setup(f => f.SetFlags(Frame, FrameFlags.Guest | FrameFlags.Private));
        unmap.InSequence(seq).Setup(u => u.TryToUnmap(Frame, UnmapFlags.None)).Returns(1);

        Assert.Equal((Errno)0, policy.OnPageCacheLookup(new PageCacheLookup(Frame, Syscall: false, GuestVma: true, GupFlags.AllowPoisoned)));

        unmap.Verify(u => u.TryToUnmap(Frame, UnmapFlags.None), Times.Once);
        frames.VerifyAll();
        unmap.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestOnly_FaultInGuestVma_OnAGuestPage_ChangesNothing()
    {
        var (policy, frames, unmap, _) = GuestOnly();
        frames.Setup(f => f.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.PageCache | FrameFlags.Guest);

        Assert.Equal((Errno)0, policy.OnPageCacheLookup(new PageCacheLookup(Frame, Syscall: false, GuestVma: true, GupFlags.AllowPoisoned)));

        frames.Verify(f => f.GetFlags(Frame), Times.Once);
        frames.VerifyNoOtherCalls();
        unmap.VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GuestOnly_SyscallOrOtherMapping_OfAGuestPage_IsEio_AndOfAnOrdinaryPageGoesOn(bool isGuest)
    {
        var (policy, frames, unmap, _) = GuestOnly();
        frames.Setup(f => f.GetFlags(Frame)).Returns(FrameFlags.InUse | FrameFlags.PageCache | (isGuest ? FrameFlags.Guest : FrameFlags.None));

        var expected = isGuest ? Errno.EIO : (Errno)0;
        Assert.Equal(expected, policy.OnPageCacheLookup(new PageCacheLookup(Frame, Syscall: true, GuestVma: false, GupFlags.None)));
        Assert.Equal(expected, policy.OnPageCacheLookup(new PageCacheLookup(Frame, Syscall: false, GuestVma: false, GupFlags.AllowPoisoned)));

        unmap.VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GuestOnly_Convert_RemapsTheRange_AnonymousToShareAndProtGuestShmemToMakePrivate(bool toPrivate)
    {
        var (policy, _, _, memory) = GuestOnly();
        var gpa = new Gpa(0x3000);
        memory.Setup(m => m.MapAnonymous(ShmemTd.Id, gpa, 0x1000)).Returns(0);
        memory.Setup(m => m.MapBacking(ShmemTd.Id, gpa, 0x1000, true)).Returns(0);

        Assert.Null(policy.OnConvert(new Conversion(ShmemTd, gpa, 0x1000, toPrivate)));

        if (toPrivate) memory.Verify(m => m.MapBacking(ShmemTd.Id, gpa, 0x1000, true), Times.Once);
        else memory.Verify(m => m.MapAnonymous(ShmemTd.Id, gpa, 0x1000), Times.Once);
        memory.VerifyNoOtherCalls();
    }

    [Theory]
    [InlineData(BackingKind.Anon)]
    [InlineData(BackingKind.GuestMemfd)]
    [InlineData(BackingKind.Hugetlb)]
    public void GuestOnly_ProtectedVmNotOnShmem_IsBadInput_NamingTheRule(BackingKind backing)
    {
        var (policy, _, _, _) = GuestOnly();

        var error = Assert.Throws<ComponentOptionsException>(() => policy.MapMemslot(new VmmMapping(Vm(backing))));

        Assert.Contains("PROT_GUEST", error.Message, StringComparison.Ordinal);
        Assert.Equal(VmmProtection.Guest, policy.MapMemslot(new VmmMapping(ShmemTd)));
        Assert.Equal(VmmProtection.ReadWrite, policy.MapMemslot(new VmmMapping(Vm(backing, isProtected: false))));
    }

    [Theory]
    [InlineData(false, VmFile.GuestMemfd)]
    [InlineData(true, VmFile.Backing)]
    public void GuestMemfd_Convert_PunchesOutTheSideGivenUp(bool toPrivate, VmFile discarded)
    {
        var memory = new Mock<IVmmMemory>(MockBehavior.Strict);
        var policy = new GuestMemfdPolicy(new GuestMemfdOptions(), memory.Object, Mock.Of<IKernelLog>(MockBehavior.Strict));
        var gpa = new Gpa(0x5000);
        memory.Setup(m => m.PunchHole(GmemTd.Id, discarded, gpa, 0x2000)).Returns(0);

        Assert.Null(policy.OnConvert(new Conversion(GmemTd, gpa, 0x2000, toPrivate)));

        memory.Verify(m => m.PunchHole(GmemTd.Id, discarded, gpa, 0x2000), Times.Once);
        memory.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestMemfd_InPlaceConversion_OnAMappableGuestMemfd_DiscardsNothing_AndUnmapsOnlyGoingPrivate()
    {
        var memory = new Mock<IVmmMemory>(MockBehavior.Strict);
        var policy = new GuestMemfdPolicy(new GuestMemfdOptions { InPlaceConversion = true }, memory.Object, Mock.Of<IKernelLog>(MockBehavior.Strict));
        var td = GmemTd with { GuestMemfdMappable = true };
        var gpa = new Gpa(0x1000);
        memory.Setup(m => m.UnmapMappingRange(td.Id, VmFile.GuestMemfd, gpa, 0x1000));

        Assert.Null(policy.OnConvert(new Conversion(td, gpa, 0x1000, ToPrivate: false)));
        memory.VerifyNoOtherCalls();
        Assert.Null(policy.OnConvert(new Conversion(td, gpa, 0x1000, ToPrivate: true)));

        memory.Verify(m => m.UnmapMappingRange(td.Id, VmFile.GuestMemfd, gpa, 0x1000), Times.Once);
        memory.VerifyNoOtherCalls();
    }

    public static TheoryData<bool, bool, bool, bool, GuestMemorySource> Sources => new()
    {
        // private access, attribute private, has guest_memfd, GMEM_ONLY → source
        { true, true, true, false, GuestMemorySource.GuestMemfd },
        { false, false, true, false, GuestMemorySource.VmmMapping },
        { false, false, true, true, GuestMemorySource.GuestMemfd },
        { true, false, true, false, GuestMemorySource.MemoryFault },
        { false, true, true, true, GuestMemorySource.MemoryFault },
        { true, true, false, false, GuestMemorySource.VmmMapping },
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void GuestMemfd_SourceOf_FollowsTheAttributeAndTheSlot(bool isPrivate, bool attributePrivate, bool hasGmem, bool gmemOnly, GuestMemorySource expected)
    {
        var policy = new GuestMemfdPolicy(new GuestMemfdOptions(), Mock.Of<IVmmMemory>(MockBehavior.Strict), Mock.Of<IKernelLog>(MockBehavior.Strict));

        Assert.Equal(expected, policy.SourceOf(new GuestAccess(GmemTd, new Gfn(7), isPrivate, attributePrivate, hasGmem, gmemOnly)));
    }
}
